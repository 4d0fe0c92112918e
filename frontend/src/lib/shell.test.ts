import { describe, expect, it } from 'vitest';
import { quoteCommand, shellQuote } from './shell';

describe('shellQuote', () => {
  it.each([
    ['', "''"],
    ['plain', 'plain'],
    ['/srv/www/releases/20261126091502-3f2a9c1', '/srv/www/releases/20261126091502-3f2a9c1'],
    ['www@10.0.0.5:22', 'www@10.0.0.5:22'],
    ['APP_ENV=production', 'APP_ENV=production'],
    ['=cmd', "'=cmd'"],
    ["it's", `'it'\\''s'`],
    ['two words', "'two words'"],
    ['$(touch x) `y` ${HOME}', "'$(touch x) `y` ${HOME}'"],
    ['a\nb', "'a\nb'"],
    ['*', "'*'"],
    ['~', "'~'"],
    ['naïve', "'naïve'"],
    ['[redacted]', "'[redacted]'"],
  ])('%j is %j', (arg, want) => {
    expect(shellQuote(arg)).toBe(want);
  });
});

describe('quoteCommand', () => {
  it('joins the quoted words of argv into one line', () => {
    expect(quoteCommand(['env', 'COPY=[redacted]', "GREETING=it's me", 'sh', '-c', 'echo "$GREETING"'])).toBe(
      `env 'COPY=[redacted]' 'GREETING=it'\\''s me' sh -c 'echo "$GREETING"'`,
    );
    expect(quoteCommand(['mkdir', '-p', '/srv/a b'])).toBe("mkdir -p '/srv/a b'");
    expect(quoteCommand([])).toBe('');
  });

  it('quotes a command name a shell would read as syntax or as an assignment', () => {
    expect(quoteCommand(['time', 'ls'])).toBe("'time' ls");
    expect(quoteCommand(['A=b', 'c'])).toBe("'A=b' c");
    expect(quoteCommand(['ls', 'time', 'A=b'])).toBe('ls time A=b');
  });

  it('keeps a script with its newlines inside one quoted word', () => {
    const script = 'cd "$1" || exit 4\nshift\nexec "$@"';
    expect(quoteCommand(['sh', '-c', script, 'sh', '/srv/x'])).toBe(`sh -c '${script}' sh /srv/x`);
  });
});
