-- Headless test of client-nvim/lenscribe.lua against the real lenscribe language server and a real model.
--
--   nvim --headless -i NONE -n -u client-nvim/test/init.lua
--
-- Environment (tests/test_nvim_client.py sets it):
--   LENSCRIBE_NVIM_TEST_FILE  the Python file to open (a copy of client-vscode/test/e2e/workspace/shapes.py)
--   LENSCRIBE_PYTHON          a Python with lenscribe
--   LENSCRIBE_E2E_MODEL_DIR   the model (the tests' tiny model, which has memorised shapes.py's functions)
--   LENSCRIBE_CACHE_DIR_TEST  a fresh summary cache directory
--   LENSCRIBE_NVIM_RESULT     where to write what was seen (JSON)
--   LENSCRIBE_NVIM_BAD_ROOT   a directory with a file whose server cannot start (tests the error message)
-- Exits 0 when every check passes, 1 otherwise (the reason on stderr and in the result file).

local env = function(name)
  local v = os.getenv(name)
  if v == nil or v == '' then
    io.stderr:write('missing environment variable ' .. name .. '\n')
    vim.cmd('cquit 2')
  end
  return v
end

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
package.path = vim.fn.fnamemodify(here, ':h') .. '/?.lua;' .. package.path

local EXPECT = {
  add = 'Add two numbers and return the sum.',
  read_lines = 'Read a file and return its lines.',
}

local result = { nvim = tostring(vim.version().major .. '.' .. vim.version().minor .. '.' .. vim.version().patch), checks = {} }
local started = vim.loop.hrtime()
local function elapsed()
  return (vim.loop.hrtime() - started) / 1e9
end

local function write_result()
  local f = io.open(env('LENSCRIBE_NVIM_RESULT'), 'w')
  f:write(vim.fn.json_encode(result))
  f:close()
end

local messages = {}

local function fail(msg)
  result.ok = false
  result.messages = messages
  result.error = msg
  write_result()
  io.stderr:write(string.format('[nvim %s %.1fs] FAIL: %s\n', result.nvim, elapsed(), msg))
  vim.cmd('cquit 1')
end

local function check(name, detail)
  table.insert(result.checks, name)
  io.stdout:write(string.format('[nvim %s %.1fs] ok: %s%s\n', result.nvim, elapsed(), name, detail and (' -- ' .. detail) or ''))
end

local function wait_for(ms, what, cond)
  local value
  local ok = vim.wait(ms, function()
    local ok_, v = pcall(cond)
    value = ok_ and v or nil
    return value ~= nil and value ~= false
  end, 50)
  if not ok then
    fail('timed out after ' .. ms .. ' ms waiting for ' .. what)
  end
  return value
end


local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(messages, { msg = msg, level = level })
  return notify(msg, level, opts)
end

local function run()
  local lenscribe = require('lenscribe')
  lenscribe.setup({
    python = env('LENSCRIBE_PYTHON'),
    settings = {
      modelDir = env('LENSCRIBE_E2E_MODEL_DIR'),
      cacheDir = env('LENSCRIBE_CACHE_DIR_TEST'),
      hoverTimeoutMs = 20000,
      workspaceOnOpen = false,
      -- the tiny model's memorised sentences name words its code does not ("two", "sum"): shown as they are here
      groundingCheck = false,
    },
  })
  for _, name in ipairs({ 'LenscribeSummarizeFile', 'LenscribeSummarizeWorkspace', 'LenscribeRestart', 'LenscribeInfo',
    'LenscribeInsertDocstring', 'LenscribeRegenerate', 'LenscribeCopySummary' }) do
    if vim.fn.exists(':' .. name) ~= 2 then
      fail('no user command :' .. name)
    end
  end
  check('user commands defined')

  vim.cmd('edit ' .. vim.fn.fnameescape(env('LENSCRIBE_NVIM_TEST_FILE')))
  local buf = vim.api.nvim_get_current_buf()
  local client = wait_for(30000, 'the lenscribe client to attach and initialize', function()
    local c = lenscribe.client(buf)
    return c and c.initialized and c or nil
  end)
  check('client attached', table.concat(client.config.cmd, ' '))

  -- Code lenses: pending titles first, then the summaries after the server's workspace/codeLens/refresh.
  local function lens_texts()
    local texts = {}
    for name, ns in pairs(vim.api.nvim_get_namespaces()) do
      if name:match('codelens') then -- vim_lsp_codelens:<id> (0.7), nvim.lsp.codelens:<id> (0.11)
        for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
          local d = mark[4] or {}
          local line = {}
          for _, chunk in ipairs(d.virt_text or {}) do
            table.insert(line, chunk[1])
          end
          for _, vl in ipairs(d.virt_lines or {}) do
            for _, chunk in ipairs(vl) do
              table.insert(line, chunk[1])
            end
          end
          table.insert(texts, { row = mark[2], text = table.concat(line) })
        end
      end
    end
    table.sort(texts, function(a, b) return a.row < b.row end)
    return texts
  end
  wait_for(120000, 'a code lens with "' .. EXPECT.add .. '"', function()
    for _, t in ipairs(lens_texts()) do
      if t.text:find(EXPECT.add, 1, true) then
        return true
      end
    end
  end)
  wait_for(30000, 'a code lens with "' .. EXPECT.read_lines .. '"', function()
    for _, t in ipairs(lens_texts()) do
      if t.text:find(EXPECT.read_lines, 1, true) then
        return true
      end
    end
  end)
  result.lenses = lens_texts()
  local add_row
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if line:match('^def add%(') then
      add_row = i - 1
    end
  end
  local on_add = false
  for _, t in ipairs(result.lenses) do
    on_add = on_add or (t.row == add_row and t.text:find(EXPECT.add, 1, true) ~= nil)
  end
  if not on_add then
    fail('the lens for add() is not on its line ' .. tostring(add_row) .. ': ' .. vim.inspect(result.lenses))
  end
  if lenscribe.stats.lens_refresh_requests < 1 then
    fail('the server never sent workspace/codeLens/refresh')
  end
  result.lens_refresh_requests = lenscribe.stats.lens_refresh_requests
  check('code lenses', #result.lenses .. ' lenses, ' .. lenscribe.stats.lens_refresh_requests .. ' refresh requests')

  -- Hover: K on `add` opens a floating window with the summary.
  vim.api.nvim_win_set_cursor(0, { add_row + 1, 5 })
  vim.cmd('normal K')
  local hover = wait_for(30000, 'a hover window with "' .. EXPECT.add .. '"', function()
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_win_get_config(win).relative ~= '' then
        local lines = vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false)
        if table.concat(lines, '\n'):find(EXPECT.add, 1, true) then
          return lines
        end
      end
    end
  end)
  result.hover = hover
  check('hover', table.concat(hover, ' | '))
  -- close the float
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      vim.api.nvim_win_close(win, true)
    end
  end

  -- :LenscribeSummarizeFile opens the outline in a scratch markdown buffer.
  vim.cmd('LenscribeSummarizeFile')
  local outline = wait_for(60000, 'the outline buffer', function()
    local o = lenscribe.last_outline
    return o and o.bufnr and vim.api.nvim_buf_is_valid(o.bufnr) and o or nil
  end)
  local lines = vim.api.nvim_buf_get_lines(outline.bufnr, 0, -1, false)
  local text = table.concat(lines, '\n')
  result.outline = lines
  if vim.bo[outline.bufnr].filetype ~= 'markdown' or vim.bo[outline.bufnr].buftype ~= 'nofile' then
    fail('the outline buffer is not a scratch markdown buffer')
  end
  for name, summary in pairs(EXPECT) do
    if not text:find('`' .. name .. '`', 1, true) or not text:find(summary, 1, true) then
      fail('the outline lacks ' .. name .. ': ' .. text)
    end
  end
  if vim.api.nvim_get_current_buf() ~= outline.bufnr then
    fail('the outline buffer is not the current one')
  end
  check('summarize file', #lines .. ' outline lines')
  vim.cmd('wincmd p')

  -- :LenscribeSummarizeWorkspace reports the counts; its progress arrives as $/progress.
  vim.cmd('LenscribeSummarizeWorkspace')
  local ws = wait_for(120000, 'the workspace summarize result', function()
    return lenscribe.last_workspace_result
  end)
  result.workspace = ws
  if ws.error or (ws.files or 0) < 1 then
    fail('summarize workspace: ' .. vim.inspect(ws))
  end
  local progress_ended = false
  for _, p in pairs(lenscribe.stats.progress) do
    progress_ended = progress_ended or p.kind == 'end'
  end
  if not progress_ended then
    fail('no work-done progress from the workspace summarize: ' .. vim.inspect(lenscribe.stats.progress))
  end
  check('summarize workspace', string.format('%d files, %d chunks', ws.files, ws.chunks or 0))

  -- Code actions on add() through vim.lsp.buf.code_action() (vim.ui.select answered with the wanted title):
  -- "Copy summary" fills the registers, "Insert summary as docstring" edits the buffer in one undo step.
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_win_set_cursor(0, { add_row + 2, 4 })
  local before = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local titles = {}
  local select = vim.ui.select
  local function choose(prefix)
    vim.ui.select = function(items, opts, on_choice)
      titles = {}
      for i, item in ipairs(items) do
        local title = opts.format_item and opts.format_item(item) or tostring(i)
        table.insert(titles, title)
        if title:find(prefix, 1, true) then
          return on_choice(item, i)
        end
      end
      fail('no code action "' .. prefix .. '" among ' .. vim.inspect(titles))
    end
    vim.lsp.buf.code_action()
  end
  lenscribe.last_copied = nil
  choose('Copy summary')
  result.copied = wait_for(30000, 'the copied summary', function()
    return lenscribe.last_copied
  end)
  result.register = vim.fn.getreg('"')
  if result.copied ~= EXPECT.add or result.register ~= EXPECT.add then
    fail('copy summary: ' .. vim.inspect({ result.copied, result.register }))
  end
  result.code_actions = titles
  check('code action: copy summary', result.register)
  local docstring = '    """' .. EXPECT.add .. '"""'
  choose('Insert summary as docstring')
  result.docstring_line = wait_for(30000, 'the inserted docstring', function()
    local line = vim.api.nvim_buf_get_lines(buf, add_row + 1, add_row + 2, false)[1]
    return line == docstring and line or nil
  end)
  local after = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  if #after ~= #before + 1 or after[add_row + 1] ~= before[add_row + 1] or after[add_row + 3] ~= before[add_row + 2] then
    fail('the docstring is not the only change: ' .. vim.inspect(after))
  end
  vim.cmd('silent undo')
  if table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') ~= table.concat(before, '\n') then
    fail('one undo does not remove the docstring')
  end
  vim.ui.select = select
  check('code action: insert docstring, one undo', result.docstring_line)
  -- :LenscribeRegenerate: a beam search for add(); the lens shows it.
  vim.api.nvim_win_set_cursor(0, { add_row + 1, 5 })
  lenscribe.last_regenerated = nil
  vim.cmd('LenscribeRegenerate')
  local regen = wait_for(60000, 'the regenerated summary', function()
    return lenscribe.last_regenerated
  end)
  if type(regen.summary) ~= 'string' or regen.summary == '' or regen.beams ~= 4 then
    fail('regenerate: ' .. vim.inspect(regen))
  end
  result.regenerated = regen.summary
  check('regenerate with beam search', regen.summary)

  -- A project whose server cannot start: a clear error, once.
  local bad_root = os.getenv('LENSCRIBE_NVIM_BAD_ROOT')
  if bad_root and bad_root ~= '' then
    lenscribe.config.python = '/nonexistent/bin/python'
    vim.cmd('edit ' .. vim.fn.fnameescape(bad_root .. '/bad.py'))
    local msg = wait_for(10000, 'an error message for the missing Python', function()
      for _, m in ipairs(messages) do
        if tostring(m.msg):find('cannot start the language server', 1, true) then
          return m
        end
      end
    end)
    if not tostring(msg.msg):find('/nonexistent/bin/python', 1, true) or msg.level ~= vim.log.levels.ERROR then
      fail('the error message does not name the Python: ' .. vim.inspect(msg))
    end
    result.start_error = msg.msg
    check('start error', msg.msg)
  end
end

-- After startup (filetype detection is switched on once the init file has run), outside of any autocommand (an
-- :edit inside one would not trigger the FileType autocommands).
vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
    -- Whatever happens, stop after 3 minutes.
    vim.defer_fn(function()
      fail('the whole test took longer than 180 s')
    end, 180000)
    local ok_run, err_run = xpcall(run, debug.traceback)
    if not ok_run then
      fail('error: ' .. tostring(err_run))
    end
    result.messages = vim.split(vim.fn.execute('messages'), '\n', { trimempty = true })
    for _, m in ipairs(result.messages) do
      if m:find('deprecated', 1, true) then
        fail('Neovim warned: ' .. m)
      end
    end
    result.ok = true
    write_result()
    io.stdout:write(string.format('[nvim %s %.1fs] PASS\n', result.nvim, elapsed()))
    vim.cmd('qall!')
    end)
  end,
})
