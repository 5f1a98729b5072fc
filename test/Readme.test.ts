/**
 * Every TypeScript block of the README is a test:
 * - the Go → Effect examples must appear, line for line (indentation aside), inside a test of this directory — where
 *   they run and their outcome is asserted;
 * - every other block is a complete program, imports included: its first line names its file
 *   (`// examples/readme/drop-in.ts — …`), and the block must be that file exactly. The files are type-checked with
 *   the project (`tsconfig.json` includes them) and run by `test/e2e/readme-examples.test.ts`.
 * Edit an example in the README without its test or file, or the other way round, and this fails.
 */
import { readdirSync, readFileSync } from "node:fs"
import path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const root = path.join(import.meta.dirname, "..")
const readme = readFileSync(path.join(root, "README.md"), "utf8")

/**
 * the ```ts blocks between `## Go → Effect` and the next `## ` heading; each opens with a title line
 * (`// Go: sync.Mutex`) that is not part of the example
 */
const examples = (): ReadonlyArray<{ readonly title: string; readonly lines: ReadonlyArray<string> }> => {
  const start = readme.indexOf("\n## Go → Effect")
  const end = readme.indexOf("\n## ", start + 1)
  const section = readme.slice(start, end === -1 ? undefined : end)
  return Array.from(section.matchAll(/```ts\n([\s\S]*?)```/g), (match) => {
    const [title = "", ...lines] = (match[1] ?? "").split("\n").map((line) => line.trim())
    return { title: title.replace(/^\/\/ Go: /, ""), lines: lines.filter((line) => line !== "") }
  })
}

const testSources = (dir: string): ReadonlyArray<ReadonlyArray<string>> =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".test.ts"))
    .map((entry) =>
      readFileSync(path.join(entry.parentPath, entry.name), "utf8")
        .split("\n")
        .map((line) => line.trim())
    )

/** contains — `lines` appear consecutively in `source` */
const contains = (source: ReadonlyArray<string>, lines: ReadonlyArray<string>): boolean =>
  source.some((_, at) => lines.every((line, i) => source[at + i] === line))

describe("README Go → Effect examples", () => {
  const sources = testSources(import.meta.dirname)
  const blocks = examples()

  it("has an example for each construct of the lesson", () => {
    assert.isAtLeast(blocks.length, 15)
  })

  for (const block of blocks) {
    it(`runs as a test: ${block.title}`, () => {
      assert.isNotEmpty(block.lines)
      assert.isTrue(
        sources.some((source) => contains(source, block.lines)),
        `no test contains the README example "${block.title}" verbatim:\n${block.lines.join("\n")}`
      )
    })
  }
})

/** the ```ts blocks outside the Go → Effect section */
const programs = (): ReadonlyArray<string> => {
  const start = readme.indexOf("\n## Go → Effect")
  const end = readme.indexOf("\n## ", start + 1)
  const outside = readme.slice(0, start) + (end === -1 ? "" : readme.slice(end))
  return Array.from(outside.matchAll(/```ts\n([\s\S]*?)```/g), (match) => match[1] ?? "")
}

describe("README programs", () => {
  const blocks = programs()

  it("shows the drop-in, the production set-up and the group", () => {
    assert.isAtLeast(blocks.length, 3)
  })

  for (const block of blocks) {
    const file = /^\/\/ (examples\/readme\/[\w-]+\.ts)/.exec(block)?.[1]
    it(`is a file, verbatim: ${file ?? block.split("\n")[0]}`, () => {
      assert.isDefined(file, `a README program must open with "// examples/readme/<name>.ts":\n${block}`)
      assert.strictEqual(block, readFileSync(path.join(root, file as string), "utf8"))
    })
  }
})
