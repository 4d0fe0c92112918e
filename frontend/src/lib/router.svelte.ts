// Hash routes: the app is one page served from the binary (and from Wails'
// asset server), so the URL's fragment names the screen and survives reloads.
//
//   #/inbox                                 what waits for me (the first screen)
//   #/dashboard                             every environment: what runs where
//   #/releases[?project=&q=&cancelled=1]     the board
//   #/releases/new                          new release
//   #/releases/42                           a release
//   #/deployments[?project=&env=&state=&requested_by=&kind=]   every deployment, newest first
//   #/deployments/d7                        a deployment, live
//   #/versions/shop/production              an environment's versions
//   #/audit                                 the audit trail
//   #/projects  #/projects/shop             projects
//   #/users                                 users and roles (admin)
//   #/account                               my password and personal tokens

export interface Route {
  name:
    | 'inbox'
    | 'dashboard'
    | 'board'
    | 'new-release'
    | 'release'
    | 'deployments'
    | 'deployment'
    | 'versions'
    | 'audit'
    | 'projects'
    | 'project'
    | 'users'
    | 'account'
    | 'not-found';
  params: Record<string, string>;
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/inbox';
  const [path = '', qs = ''] = raw.split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(qs);
  const r = (name: Route['name'], params: Record<string, string> = {}): Route => ({ name, params, query });
  switch (parts[0]) {
    case undefined:
    case 'inbox':
      return parts.length <= 1 ? r('inbox') : r('not-found');
    case 'dashboard':
      return parts.length === 1 ? r('dashboard') : r('not-found');
    case 'releases':
      if (parts.length === 1 || parts[0] === undefined) return r('board');
      if (parts[1] === 'new') return r('new-release');
      return parts.length === 2 ? r('release', { id: parts[1] ?? '' }) : r('not-found');
    case 'deployments':
      if (parts.length === 1) return r('deployments');
      return parts.length === 2 ? r('deployment', { id: parts[1] ?? '' }) : r('not-found');
    case 'versions':
      return parts.length === 3 ? r('versions', { project: parts[1] ?? '', env: parts[2] ?? '' }) : r('not-found');
    case 'audit':
      return r('audit');
    case 'projects':
      if (parts.length === 1) return r('projects');
      return parts.length === 2 ? r('project', { id: parts[1] ?? '' }) : r('not-found');
    case 'users':
      return r('users');
    case 'account':
      return parts.length === 1 ? r('account') : r('not-found');
  }
  return r('not-found');
}

/**
 * Takes a review link's secret (#/review/<secret>, printed by `releasedesk
 * open`) out of the address, so history keeps no copy, and returns it;
 * null when the address holds none. Called before the router reads it.
 */
export function takeReviewSecret(loc: Pick<Location, 'hash'> | undefined = globalThis.location,
  hist: Pick<History, 'replaceState'> | undefined = globalThis.history): string | null {
  const m = /^#\/review\/([^/?]+)$/.exec(loc?.hash ?? '');
  if (!m?.[1]) return null;
  hist?.replaceState(null, '', '#/releases');
  return decodeURIComponent(m[1]);
}

/** Builds a hash link: link('releases', '42') is '#/releases/42'. */
export function link(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}

export class Router {
  route = $state<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));

  start(): () => void {
    const on = () => {
      this.route = parseHash(location.hash);
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }

  go(hash: string): void {
    if (location.hash === hash) this.route = parseHash(hash);
    else location.hash = hash;
  }
}
