/* Routes for the web view: /ui/ and its files (api/web/, embedded at build
 * time), and / which sends a browser there.
 *
 * The pages are static and open (a browser cannot attach a bearer token to
 * a page load); they hold no data.  The page asks for a token, keeps it in
 * sessionStorage (gone with the tab), and sends it as Authorization:
 * Bearer on every API call, so the API's authentication and scopes apply
 * to the web view unchanged.  No cookie is ever set, so there is nothing
 * for a cross-site request to ride on.  Every file is sent with a strict
 * Content-Security-Policy (scripts, styles and calls only from this agent,
 * no inline code, no framing) and nosniff. */
#ifndef LMNET_API_WEB_H
#define LMNET_API_WEB_H

#include "api/route.h"

extern const struct route web_routes[];

#endif
