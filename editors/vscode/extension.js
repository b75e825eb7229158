// Starts `shopc lsp` for `.shop` files: the checker's diagnostics as you
// type, hover (grains, types), go to definition, references, symbols,
// completion and formatting. The grammar and language configuration work
// without it. `shopc.path` names the binary when it is not on the PATH.
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('shopc').get('path') || 'shopc';
  const serverOptions = { command, args: ['lsp'] };
  const clientOptions = {
    documentSelector: [{ scheme: 'file', language: 'shop' }],
  };
  client = new LanguageClient('shopc', 'shopc', serverOptions, clientOptions);
  client.start().catch((error) => {
    vscode.window.showErrorMessage(`shopc lsp did not start (${command}): ${error.message}`);
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
