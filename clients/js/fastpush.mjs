/*  fastpush.mjs: the browser client as an ES module.
 *
 *      import { Fastpush } from "/js/fastpush.mjs";
 *      const fp = new Fastpush({ channels: ["news"] });
 *
 *  The code is in fastpush.js (built from src/, see build.mjs): importing
 *  it runs it as a module, where it defines globalThis.Fastpush, exported
 *  here.
 */
import "./fastpush.js";

const Fastpush = globalThis.Fastpush;
export { Fastpush };
export default Fastpush;
