// Tokenizes .shop files with the extension's grammar (vscode-textmate, as
// VS Code does) and fails when a token is left uncoloured: anything but
// white space whose only scope is `source.shop`. Prints each file's counts.
//
//   node coverage.js GRAMMAR FILE...
'use strict';

const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

async function main() {
  const [grammarPath, ...files] = process.argv.slice(2);
  if (!grammarPath || files.length === 0) {
    console.error('usage: node coverage.js GRAMMAR FILE...');
    process.exit(2);
  }
  const wasm = fs.readFileSync(
    path.join(path.dirname(require.resolve('vscode-oniguruma')), 'onig.wasm')
  );
  await oniguruma.loadWASM(wasm.buffer);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () =>
      vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath),
  });
  const grammar = await registry.loadGrammar('source.shop');

  let uncoloured = 0;
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
    let state = vsctm.INITIAL;
    let tokens = 0;
    lines.forEach((line, i) => {
      const result = grammar.tokenizeLine(line, state);
      for (const token of result.tokens) {
        const text = line.slice(token.startIndex, token.endIndex);
        if (text.trim() === '') continue;
        tokens += 1;
        if (token.scopes.length === 1) {
          uncoloured += 1;
          console.error(`${file}:${i + 1}:${token.startIndex + 1}: uncoloured ${JSON.stringify(text)}`);
        }
      }
      state = result.ruleStack;
    });
    console.log(`${file}: ${tokens} tokens`);
  }
  if (uncoloured > 0) {
    console.error(`${uncoloured} uncoloured tokens`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
