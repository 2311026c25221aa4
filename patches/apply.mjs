/**
 * Applies the reviewed dependency patches in `patches/` (see docs/transport.md) after `npm install`
 * or `npm ci`.
 *
 * - In this repository (the package root is not inside a `node_modules` folder) the patch MUST
 *   apply: a missing `patch-package`, a missing or different `@matrixai/quic`, or a patch that does
 *   not apply fails the install loudly.
 * - Installed as a dependency of another project, the patch is applied only when `@matrixai/quic`
 *   sits in this package's own `node_modules` at the patched version and `patch-package` can be
 *   found; otherwise one warning is printed and the install goes on (the transport works unpatched,
 *   only slower). A hoisted copy belongs to the other project and is never touched.
 *
 * Idempotent: `patch-package` recognises a patch that is already applied.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, sep } from "node:path"
import { fileURLToPath } from "node:url"

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const inThisRepository = !root.split(sep).includes("node_modules")
const patchDir = join(root, "patches")
const marker = "maculaPatch"

const stop = (message) => {
  if (inThisRepository) {
    console.error(`postinstall: ${message}`)
    process.exit(1)
  }
  console.warn(`macula-node: dependency patch not applied (${message}); QUIC works, but slower. See docs/transport.md.`)
  process.exit(0)
}

const patches = existsSync(patchDir) ? readdirSync(patchDir).filter((name) => name.endsWith(".patch")) : []
if (patches.length === 0) stop("no patch files in patches/")

// Every patch is named `<scope>+<name>+<version>.patch`; check the installed copy first.
for (const file of patches) {
  const parts = file.slice(0, -".patch".length).split("+")
  const version = parts.pop()
  const name = parts.join("/")
  const manifest = join(root, "node_modules", name, "package.json")
  if (!existsSync(manifest)) stop(`${name} is not installed in ${join("node_modules", name)}`)
  const installed = JSON.parse(readFileSync(manifest, "utf8")).version
  if (installed !== version) stop(`${name} is ${installed}, the patch is for ${version}`)
}

let patchPackage
try {
  const require = createRequire(join(root, "package.json"))
  const manifestPath = require.resolve("patch-package/package.json")
  const bin = JSON.parse(readFileSync(manifestPath, "utf8")).bin
  patchPackage = join(dirname(manifestPath), typeof bin === "string" ? bin : bin["patch-package"])
} catch {
  stop("patch-package is not installed")
}

const run = spawnSync(process.execPath, [patchPackage, "--error-on-fail", "--patch-dir", "patches"], {
  cwd: root,
  stdio: "inherit"
})
if (run.status !== 0) stop(`patch-package exited with ${run.status ?? run.signal}`)

const index = join(root, "node_modules", "@matrixai", "quic", "dist", "index.js")
if (!readFileSync(index, "utf8").includes(marker)) stop("@matrixai/quic has no patch marker after patching")
