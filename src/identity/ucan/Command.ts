/**
 * UCAN commands: `/`-delimited, lower-case paths such as `/mesh/publish`. A delegated command proves
 * itself and every command below it, segment by segment: `/mesh` proves `/mesh/call` but not
 * `/meshes`, and `/` ("top") proves every command.
 *
 * Pure string logic; no I/O.
 *
 * @since 0.1.0
 */

/**
 * Why a string is not a command, or `undefined` when it is one. The rules of the UCAN 1.0
 * specification: it begins with `/`, has no trailing `/` (except `/` itself), no empty segment,
 * and no upper-case characters.
 *
 * @since 0.1.0
 * @category validation
 */
export const problem = (command: string): string | undefined => {
  if (!command.startsWith("/")) return "a command begins with /"
  if (command === "/") return undefined
  if (command.endsWith("/")) return "a command has no trailing /"
  if (command.includes("//")) return "a command has no empty segment"
  if (command !== command.toLowerCase()) return "a command is lower case"
  return undefined
}

/**
 * Whether a string is a valid command.
 *
 * @since 0.1.0
 * @category guards
 */
export const isValid = (command: string): boolean => problem(command) === undefined

/**
 * Whether the delegated command `parent` proves the invoked command `child`: equal, or `child`
 * continues `parent` at a segment boundary. Both are assumed valid.
 *
 * @example
 * ```ts
 * covers("/mesh", "/mesh/publish") // true
 * covers("/mesh", "/meshes")       // false
 * covers("/", "/content/get")      // true
 * ```
 * @since 0.1.0
 * @category predicates
 */
export const covers = (parent: string, child: string): boolean =>
  parent === "/" || child === parent || child.startsWith(parent + "/")
