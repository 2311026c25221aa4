// Builds dist/ when it is missing or older than any source file, so `npm start` works on a fresh clone.
import { execSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

const roots = ["src", "actors", "supervisors", "test/bench", "test/sim", "test/support", "package.json", "tsconfig.json"]
const marker = "dist/src/cli/main.js"

const newest = (path) => {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stat.mtimeMs)
}

if (!existsSync(marker) || statSync(marker).mtimeMs < Math.max(...roots.map(newest))) {
  process.stderr.write("building macula-node...\n")
  execSync("npm run build --silent", { stdio: ["ignore", "ignore", "inherit"] })
}
