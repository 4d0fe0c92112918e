import { describe, expect, it } from 'vitest';
import { docFormat, docId, lineOfPath, offsetOfLine, problemLines } from './configlines';

const yaml = `id: blog
title: Blog
# a comment
repo: /srv/git/blog.git
keep_releases: 1
hooks: {pre_deploy: ""}
environments:
  - name: test
    path: /home/www/blog
    hosts: ["www@10.0.0.5:22"]
  - name: production
    naem: x
    hosts:
      - www@10.0.1.1:22
      - addr: www@10.0.1.2:22
        path: /srv
workflow:
  fast_forward: true
`;

describe('lineOfPath', () => {
  it('finds top-level keys', () => {
    expect(lineOfPath(yaml, 'id')).toBe(1);
    expect(lineOfPath(yaml, 'keep_releases')).toBe(5);
    expect(lineOfPath(yaml, 'environments')).toBe(7);
  });

  it('finds list items and their keys', () => {
    expect(lineOfPath(yaml, 'environments[0]')).toBe(8);
    expect(lineOfPath(yaml, 'environments[0].path')).toBe(9);
    expect(lineOfPath(yaml, 'environments[1].name')).toBe(11);
    expect(lineOfPath(yaml, 'environments[1].naem')).toBe(12);
    expect(lineOfPath(yaml, 'environments[1].hosts[1]')).toBe(15);
    expect(lineOfPath(yaml, 'environments[1].hosts[1].path')).toBe(16);
    expect(lineOfPath(yaml, 'workflow.fast_forward')).toBe(18);
  });

  it('falls back to the nearest line it found, or 0', () => {
    expect(lineOfPath(yaml, 'environments[1].approval')).toBe(11);
    expect(lineOfPath(yaml, 'environments[0].hosts[0]')).toBe(10); // a flow list
    expect(lineOfPath(yaml, 'strategy')).toBe(0);
    expect(lineOfPath(yaml, 'hooks.pre_deploy')).toBe(6);
  });
});

describe('problemLines', () => {
  it('prefers the line the server names', () => {
    expect(
      problemLines(yaml, [
        { path: 'environments[1].naem', reason: 'unknown field (did you mean "name"?) (line 12)' },
        { path: 'keep_releases', reason: '1: want 2 to 100' },
        { path: 'strategy', reason: 'required' },
      ]),
    ).toEqual([12, 5, 0]);
  });
});

describe('offsetOfLine', () => {
  it('points at the start of a line', () => {
    expect(offsetOfLine('a\nbc\nd', 1)).toBe(0);
    expect(offsetOfLine('a\nbc\nd', 3)).toBe(5);
    expect(offsetOfLine('a', 9)).toBe(1);
  });
});

describe('docFormat and docId', () => {
  it('reads the id of YAML and JSON documents', () => {
    expect(docFormat('id: x')).toBe('yaml');
    expect(docFormat('  {"id": "x"}')).toBe('json');
    expect(docId('title: T\nid: shop   # the id\n')).toBe('shop');
    expect(docId('id: "my-shop"\n')).toBe('my-shop');
    expect(docId('  id: nested\n')).toBe('');
    expect(docId('{"id": "blog"}')).toBe('blog');
    expect(docId('{"id": ')).toBe('');
    expect(docId('title: none')).toBe('');
  });
});
