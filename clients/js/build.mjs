/*  build.mjs: puts fastpush.js together from src/.
 *
 *      /usr/bin/node clients/js/build.mjs [OUT]      (or: make js)
 *
 *  The modules of MODULES, in that order (later ones use what earlier
 *  ones define), each indented into the factory of src/wrapper.js at its
 *  "@modules" line, under a divider naming the file.  OUT defaults to
 *  fastpush.js next to this script; the result is committed, and
 *  tests/e2e/test_js_build.py checks that it is current.  No dependencies.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const MODULES = [
    "base.js",          // defaults, the transport table, helpers
    "core.js",          // the Fastpush object, event emitter, close()
    "cursor.js",        // per-channel cursors, de-duplication, resets
    "presence.js",      // presence channels: member lists and events
    "transport.js",     // opening, watching, failing over, upgrading
    "tabs.js",          // leader-tab sharing over BroadcastChannel / Web Locks
    "publish.js",
    "websocket.js",
    "sse.js",
    "poll.js"
];

const HERE = dirname(fileURLToPath(import.meta.url));
const SRC = join(HERE, "src");

const HEADER = `/*  GENERATED from clients/js/src/*.js by clients/js/build.mjs: do not
 *  edit this file, edit src/ and rebuild with
 *      make js        (or: /usr/bin/node clients/js/build.mjs)
 */
`;

function indent(text, pad) {
    return text.replace(/\n+$/, "").split("\n")
        .map((l) => (l === "" ? l : pad + l)).join("\n");
}

export function build() {
    const wrapper = readFileSync(join(SRC, "wrapper.js"), "utf8");
    const m = /^([ ]*)\/\* @modules \*\/$/m.exec(wrapper);
    if (!m)
        throw new Error("src/wrapper.js: no /* @modules */ line");
    const pad = m[1];
    const body = MODULES.map((name) =>
        pad + "/* " + "-".repeat(60) + " " + name + " */\n\n" +
        indent(readFileSync(join(SRC, name), "utf8"), pad)).join("\n\n");
    return HEADER + wrapper.slice(0, m.index) + body + wrapper.slice(m.index + m[0].length);
}

if (resolve(process.argv[1] || "") === fileURLToPath(import.meta.url)) {
    const out = process.argv[2] || join(HERE, "fastpush.js");
    writeFileSync(out, build());
}
