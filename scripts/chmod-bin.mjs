// tsc does not keep the executable bit; the `macula` bin needs it when linked by npm.
import { chmodSync, existsSync } from "node:fs"
const bin = "dist/src/cli/main.js"
if (existsSync(bin)) chmodSync(bin, 0o755)
