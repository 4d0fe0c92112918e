// Where in a project's YAML a configuration problem is, so the editor can
// mark the line. The server names a line for syntax-level problems
// ("... (line 14)"); for the rest the path ("keep_releases",
// "environments[1].path") is looked up in the text. A best effort: a path
// that cannot be found marks nothing.

import type { FieldProblem } from './api';

const LINE = /\(line (\d+)\)/;

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

function isContent(line: string): boolean {
  const t = line.trim();
  return t !== '' && !t.startsWith('#');
}

/** Index (0-based) of `key:` at exactly `indent`, between from and to; -1 when absent. */
function findKey(lines: string[], key: string, indent: number, from: number, to: number): number {
  const re = new RegExp(`^\\s*(?:-\\s+)?["']?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']?\\s*:`);
  for (let i = from; i < to; i++) {
    const l = lines[i] ?? '';
    if (!isContent(l)) continue;
    const ind = l.trimStart().startsWith('- ') ? indentOf(l) + 2 : indentOf(l);
    if (ind === indent && re.test(l)) return i;
  }
  return -1;
}

/** End (exclusive) of the block that starts at line i: the next content line indented at most `indent`. */
function blockEnd(lines: string[], i: number, indent: number): number {
  for (let j = i + 1; j < lines.length; j++) {
    const l = lines[j] ?? '';
    if (isContent(l) && indentOf(l) <= indent) return j;
  }
  return lines.length;
}

/** The 1-based line a path points to in the YAML text, or 0. */
export function lineOfPath(yaml: string, path: string): number {
  const lines = yaml.split('\n');
  const parts = path.match(/[^.[\]]+|\[\d+\]/g) ?? [];
  let from = 0;
  let to = lines.length;
  let indent = 0;
  let found = -1;
  for (const part of parts) {
    if (part.startsWith('[')) {
      // The n-th "- " item of the block under the key found last.
      const n = Number(part.slice(1, -1));
      if (found < 0) return 0;
      let count = -1;
      let item = -1;
      let itemIndent = -1;
      for (let i = found + 1; i < to; i++) {
        const l = lines[i] ?? '';
        if (!isContent(l)) continue;
        const t = l.trimStart();
        if (!t.startsWith('- ') && t !== '-') continue;
        if (itemIndent < 0) itemIndent = indentOf(l);
        if (indentOf(l) !== itemIndent) continue;
        if (++count === n) {
          item = i;
          break;
        }
      }
      if (item < 0) return found + 1; // a flow list, or too few items: the key's line
      found = item;
      indent = itemIndent + 2;
      from = item;
      to = blockEnd(lines, item, itemIndent);
      continue;
    }
    const i = findKey(lines, part, indent, from, to);
    if (i < 0) return found >= 0 ? found + 1 : 0;
    found = i;
    from = i + 1;
    to = blockEnd(lines, i, indent);
    // The children of a key are indented further; find how far.
    const next = lines.slice(from, to).find(isContent);
    indent = next ? indentOf(next) : indent + 2;
  }
  return found >= 0 ? found + 1 : 0;
}

/** The 1-based line of each problem (0 when it cannot be placed). */
export function problemLines(yaml: string, problems: readonly FieldProblem[]): number[] {
  return problems.map((p) => {
    const m = LINE.exec(p.reason);
    if (m) return Number(m[1]);
    return p.path ? lineOfPath(yaml, p.path) : 0;
  });
}

/** The character offset where a 1-based line starts (to put the caret there). */
export function offsetOfLine(text: string, line: number): number {
  let off = 0;
  for (let i = 1; i < line; i++) {
    const nl = text.indexOf('\n', off);
    if (nl < 0) return text.length;
    off = nl + 1;
  }
  return off;
}

/** How a document will be sent: JSON when it starts with '{', else YAML (as the server reads it). */
export function docFormat(text: string): 'yaml' | 'json' {
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

/** The project id a document configures ('' when it names none): a top-level `id:`, or JSON's "id". */
export function docId(text: string): string {
  if (docFormat(text) === 'json') {
    try {
      const v: unknown = JSON.parse(text);
      const id = typeof v === 'object' && v !== null ? (v as Record<string, unknown>).id : undefined;
      return typeof id === 'string' ? id.trim() : '';
    } catch {
      return '';
    }
  }
  const m = /^id:[ \t]*(["']?)([^"'#\s]+)\1[ \t]*(?:#.*)?$/m.exec(text);
  return m?.[2] ?? '';
}
