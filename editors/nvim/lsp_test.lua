-- A real client for `shopc lsp`: headless Neovim (Debian's, 0.7) opens a
-- ShopCo file with the server attached, breaks a column name and reads the
-- diagnostic back, then asks for the hover over `fact_orders`. Run by
-- scripts/lsp-nvim.sh; prints what it saw, exits 1 on a failure.
local root = os.getenv('PROJECT')
local shopc = os.getenv('SHOPC')

local function fail(what)
  io.stdout:write('FAIL: ' .. what .. '\n')
  vim.cmd('cquit 1')
end

vim.cmd('edit ' .. root .. '/models/marts/fact_orders.shop')
local buf = vim.api.nvim_get_current_buf()
local client = vim.lsp.start_client({ name = 'shopc', cmd = { shopc, 'lsp' }, root_dir = root })
if not client then fail('the client did not start') end
vim.lsp.buf_attach_client(buf, client)

-- Wait for the server to have said it is ready (its first diagnostics).
vim.wait(20000, function()
  local c = vim.lsp.get_client_by_id(client)
  return c ~= nil and c.initialized
end, 50)

-- Break a column name: the reader of `o.customer_id` now reads `o.custmer_id`.
local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
local broken
for i, line in ipairs(lines) do
  if line:find('customer_id = o.customer_id', 1, true) then
    broken = i - 1
    local changed = line:gsub('o%.customer_id', 'o.custmer_id')
    vim.api.nvim_buf_set_lines(buf, broken, broken + 1, false, { changed })
    break
  end
end
if not broken then fail('no line reads o.customer_id') end

local found = vim.wait(20000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
if not found then fail('no diagnostic after breaking a column') end
local d = vim.diagnostic.get(buf)[1]
io.stdout:write(string.format('diagnostic at line %d: %s\n', d.lnum + 1, (d.message:gsub('\n.*', ''))))
if d.lnum ~= broken then fail('the diagnostic is on line ' .. (d.lnum + 1) .. ', not ' .. (broken + 1)) end
if not d.message:find('custmer_id', 1, true) then fail('the diagnostic does not name custmer_id') end

-- Hover over `fact_orders` in `model fact_orders {`.
local model_line
for i, line in ipairs(lines) do
  if line:find('^model fact_orders') then model_line = i - 1 end
end
local params = {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = model_line, character = 8 },
}
local answers = vim.lsp.buf_request_sync(buf, 'textDocument/hover', params, 20000)
local value = ''
for _, answer in pairs(answers or {}) do
  if answer.result and answer.result.contents then value = answer.result.contents.value end
end
io.stdout:write('hover: ' .. (value:gsub('\n', ' | ')) .. '\n')
if not value:find('derived grain [order_id]', 1, true) then fail('the hover does not show the grain') end

vim.lsp.stop_client(client)
io.stdout:write('ok\n')
vim.cmd('qall!')
