/**
 * `GET /api/v1/me`: who the bearer token belongs to. The web console signs in with it (a token it does not know
 * answers 401) and shows whose view it is: one team's for a member, every team's for an admin.
 */
import { defineRoute, reply, type Route } from '../route.js';
import * as wire from '../wire.js';

export function meRoutes(): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/me',
      summary: 'The principal the bearer token belongs to: name, team and role',
      responses: { 200: wire.Principal },
      handler({ principal }) {
        return Promise.resolve(
          reply(200, wire.Principal, { name: principal.name, team: principal.team, role: principal.role }),
        );
      },
    }),
  ];
}
