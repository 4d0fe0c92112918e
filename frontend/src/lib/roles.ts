// A user's roles three ways: the API's map (project -> roles), the grid of
// checkboxes the Users screen shows (a row per project), and one line of
// text ("shop: developer, tester; blog: manager") for typing or pasting.
// The text form is a syntax of role ids, the same in every language; what
// is only read (describeRoles) names the roles in the page's language.

import { t } from '../i18n';

export const ROLES = ['developer', 'tester', 'approver', 'manager'] as const;
export type Role = (typeof ROLES)[number];

export type RolesMap = Record<string, string[]>;
/** project -> role -> held. */
export type RoleGrid = Record<string, Record<Role, boolean>>;

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

function emptyRow(): Record<Role, boolean> {
  return { developer: false, tester: false, approver: false, manager: false };
}

/**
 * The grid for a user: a row for every known project (in the given order),
 * then any project the user holds roles on that is not in the list.
 */
export function gridFromRoles(roles: RolesMap | null | undefined, projects: readonly string[]): RoleGrid {
  const grid: RoleGrid = {};
  const extra = Object.keys(roles ?? {}).filter((p) => !projects.includes(p)).sort();
  for (const p of [...projects, ...extra]) {
    const row = emptyRow();
    for (const r of roles?.[p] ?? []) if (isRole(r)) row[r] = true;
    grid[p] = row;
  }
  return grid;
}

/** The API's map from a grid: projects without a role left out, roles in the canonical order. */
export function rolesFromGrid(grid: RoleGrid): RolesMap {
  const out: RolesMap = {};
  for (const [p, row] of Object.entries(grid)) {
    const rs = ROLES.filter((r) => row[r]);
    if (rs.length > 0) out[p] = rs;
  }
  return out;
}

/** "blog: manager; shop: developer, tester" (projects sorted, roles in order); '' for none. */
export function formatRoles(roles: RolesMap | null | undefined): string {
  return Object.keys(roles ?? {})
    .sort()
    .map((p) => [p, ROLES.filter((r) => (roles?.[p] ?? []).includes(r))] as const)
    .filter(([, rs]) => rs.length > 0)
    .map(([p, rs]) => `${p}: ${rs.join(', ')}`)
    .join('; ');
}

/** The roles for reading, in the page's language ("blog: manager; shop: developer, tester" in English); '' for none. */
export function describeRoles(roles: RolesMap | null | undefined): string {
  const sep = t('common.list_separator');
  return Object.keys(roles ?? {})
    .sort()
    .map((p) => [p, ROLES.filter((r) => (roles?.[p] ?? []).includes(r))] as const)
    .filter(([, rs]) => rs.length > 0)
    .map(([p, rs]) => t('users.roles_line', { project: p, roles: rs.map((r) => t(`common.role.${r}`)).join(sep) }))
    .join(t('users.roles_separator'));
}

/**
 * Reads the text form back: entries split by ';' or newlines, each
 * "project: role, role" (commas or spaces between roles; the full-width
 * ；：，、 of a Chinese keyboard are taken too). The first
 * problem is returned in words.
 */
export function parseRoles(text: string): { roles: RolesMap } | { error: string } {
  const roles: RolesMap = {};
  for (const raw of text.split(/[;；\n]/)) {
    const entry = raw.trim();
    if (entry === '') continue;
    const colon = entry.search(/[:：]/);
    if (colon < 0) return { error: t('users.parse.no_colon', { entry }) };
    const project = entry.slice(0, colon).trim();
    if (project === '') return { error: t('users.parse.no_project', { entry }) };
    const names = entry
      .slice(colon + 1)
      .split(/[\s,，、]+/)
      .filter(Boolean);
    for (const n of names) {
      const r = n.toLowerCase();
      if (!isRole(r)) return { error: t('users.parse.unknown_role', { name: n, roles: ROLES.join(t('common.list_separator')) }) };
      const list = (roles[project] ??= []);
      if (!list.includes(r)) list.push(r);
    }
  }
  for (const [p, rs] of Object.entries(roles)) {
    if (rs.length === 0) delete roles[p];
    else roles[p] = ROLES.filter((r) => rs.includes(r));
  }
  return { roles };
}

/** Whether two grants are the same (order of projects and roles aside). */
export function sameRoles(a: RolesMap | null | undefined, b: RolesMap | null | undefined): boolean {
  return formatRoles(a) === formatRoles(b);
}
