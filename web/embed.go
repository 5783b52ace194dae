// Package web holds the browser side of the engine: the SDK (sdk/behavior.js, sdk/api.js) and the demo pages
// (demo/), embedded in the node's binary.
//
// The pages expect demo/ to be served at the site root ("/": index.html, app.js, style.css, ops.html, ops.js)
// and sdk/ at "/sdk/", because the demo imports the SDK as "/sdk/behavior.js" and "/sdk/api.js". Tests of the SDK
// live in sdk/_test, which the embed leaves out (a leading underscore).
package web

import "embed"

// Files holds the directories sdk and demo, with paths such as "sdk/behavior.js" and "demo/index.html".
//
//go:embed sdk demo
var Files embed.FS
