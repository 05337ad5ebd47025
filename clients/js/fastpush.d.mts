// Type definitions for fastpush.mjs: the same class as fastpush.js.
import Fastpush = require("./fastpush.js");
export { Fastpush };
export default Fastpush;
