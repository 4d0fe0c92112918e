import { describe, expect, it } from 'vitest';
import { describeRoles, formatRoles, gridFromRoles, parseRoles, rolesFromGrid, sameRoles } from './roles';

describe('role grid', () => {
  it('has a row per project, then projects only the user knows', () => {
    const g = gridFromRoles({ shop: ['tester', 'developer'], old: ['manager'] }, ['shop', 'blog']);
    expect(Object.keys(g)).toEqual(['shop', 'blog', 'old']);
    expect(g.shop).toEqual({ developer: true, tester: true, approver: false, manager: false });
    expect(g.blog).toEqual({ developer: false, tester: false, approver: false, manager: false });
  });

  it('round-trips to the map, empty rows left out, roles in order', () => {
    const g = gridFromRoles({ shop: ['manager', 'developer'] }, ['shop', 'blog']);
    expect(rolesFromGrid(g)).toEqual({ shop: ['developer', 'manager'] });
    g.blog!.approver = true;
    g.shop!.manager = false;
    g.shop!.developer = false;
    expect(rolesFromGrid(g)).toEqual({ blog: ['approver'] });
  });

  it('ignores roles it does not know', () => {
    expect(rolesFromGrid(gridFromRoles({ shop: ['qa'] }, ['shop']))).toEqual({});
  });

  it('handles no roles at all', () => {
    expect(rolesFromGrid(gridFromRoles(undefined, []))).toEqual({});
  });
});

describe('roles as text', () => {
  it('formats sorted projects and ordered roles', () => {
    expect(formatRoles({ shop: ['tester', 'developer'], blog: ['manager'], x: [] })).toBe(
      'blog: manager; shop: developer, tester',
    );
    expect(formatRoles({})).toBe('');
  });

  it('describes roles for reading', () => {
    expect(describeRoles({ shop: ['tester', 'developer'], blog: ['manager'], x: [] })).toBe(
      'blog: manager; shop: developer, tester',
    );
    expect(describeRoles(undefined)).toBe('');
  });

  it('takes the full-width punctuation of a Chinese keyboard', () => {
    expect(parseRoles('shop：developer，tester；blog: approver、manager')).toEqual({
      roles: { shop: ['developer', 'tester'], blog: ['approver', 'manager'] },
    });
  });

  it('parses what it formats, and forgiving spacing', () => {
    expect(parseRoles('blog: manager; shop: developer, tester')).toEqual({
      roles: { blog: ['manager'], shop: ['developer', 'tester'] },
    });
    expect(parseRoles(' shop:Tester developer\nblog : approver,,  ')).toEqual({
      roles: { shop: ['developer', 'tester'], blog: ['approver'] },
    });
    expect(parseRoles('')).toEqual({ roles: {} });
    expect(parseRoles('shop:')).toEqual({ roles: {} });
  });

  it('says what is wrong', () => {
    expect(parseRoles('shop tester')).toEqual({ error: '"shop tester": write project: role, role' });
    expect(parseRoles(': tester')).toHaveProperty('error');
    expect(parseRoles('shop: qa')).toEqual({ error: 'unknown role "qa" (want developer, tester, approver, manager)' });
  });

  it('compares grants', () => {
    expect(sameRoles({ a: ['tester', 'developer'] }, { a: ['developer', 'tester'], b: [] })).toBe(true);
    expect(sameRoles({ a: ['tester'] }, {})).toBe(false);
  });
});
