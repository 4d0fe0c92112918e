// A step's command as the one line a person would type: each argument
// quoted for a POSIX shell the way the runner quotes what it sends to a
// host (runner/quote.go, Quote and QuoteCommand), so the line shown is the
// line that ran, and pasting it runs the same argv. Words of harmless
// characters stay bare, for reading; anything else is single-quoted.

/** Letters, digits and _ . / - : @ , + =, with '=' not first (zsh expands a leading '=cmd'). */
const BARE = /^[A-Za-z0-9_./:@,+-][A-Za-z0-9_./:@,+=-]*$/;

/** The bare words sh, bash, ksh or zsh read as syntax in command position. */
const KEYWORDS = new Set([
  'case', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'if', 'in', 'then', 'until', 'while', 'select',
  'function', 'time', 'coproc', 'repeat', 'foreach', 'end', 'nocorrect', 'noglob',
]);

function singleQuoted(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** One argument as one shell word that reads back as exactly it: `it's` is `'it'\''s'`, '' is `''`. */
export function shellQuote(arg: string): string {
  if (arg === '') return "''";
  return BARE.test(arg) ? arg : singleQuoted(arg);
}

/**
 * argv as one command line. The command name is quoted too where a shell
 * would read the bare word as something else: a reserved word, an assignment.
 */
export function quoteCommand(argv: readonly string[]): string {
  return argv.map((a, i) => (i === 0 && (KEYWORDS.has(a) || a.includes('=')) ? singleQuoted(a) : shellQuote(a))).join(' ');
}
