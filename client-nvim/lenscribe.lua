-- lenscribe for Neovim's built-in LSP client (Neovim 0.7 or newer; no plugins needed).
--
-- Two-line summaries of every function and class from the lenscribe language server: as hover text (K) and as code
-- lenses (virtual text on each definition's first line), refreshed when the server asks
-- (workspace/codeLens/refresh) and on BufEnter / InsertLeave / BufWritePost.
--
--   require('lenscribe').setup({
--     python = '~/.venv/bin/python',        -- a Python with lenscribe; or cmd = { 'lenscribe', 'serve' }
--     settings = { modelDir = nil, workers = 1 },  -- the server's "lenscribe" section (docs/neovim.md)
--   })
--
-- Commands: :LenscribeSummarizeFile (the file's outline in a scratch markdown buffer), :LenscribeSummarizeWorkspace,
-- :LenscribeRestart, :LenscribeInfo, and for the function/class at the cursor :LenscribeInsertDocstring,
-- :LenscribeRegenerate (a 4-beam search), :LenscribeCopySummary (the + and " registers). The same three are code actions
-- (vim.lsp.buf.code_action(), <leader>ca).

local M = {}

local api = vim.api
local uv = vim.loop

M.defaults = {
  -- The server's command line. nil: `<python> -I -m lenscribe serve` with `python` below, else the first of: the
  -- project's .venv/venv Python (only a trusted one: see trust_workspace_python), vim.g.python3_host_prog, `lenscribe`
  -- on PATH, `python3` on PATH -- that can import lenscribe.
  cmd = nil,
  python = nil,
  -- Running the project's .venv/venv Python runs the project's code as you. nil: only after you trusted the
  -- environment's pyvenv.cfg through vim.secure (Neovim 0.9+ asks once, as for 'exrc'; :trust / :trust ++deny); on
  -- older Neovim never. true: always (every project you open is trusted). false: never.
  trust_workspace_python = nil,
  filetypes = {
    'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'go', 'java', 'rust', 'c', 'cpp',
    'cs', 'ruby', 'php',
  },
  -- The project root: the nearest parent with one of these, else the file's directory.
  root_markers = { '.git', 'pyproject.toml', 'setup.py', 'package.json', 'go.mod', 'Cargo.toml', 'pom.xml', '.hg' },
  -- The server's configuration (section "lenscribe"), sent as initializationOptions and as
  -- workspace/didChangeConfiguration; a setting left out keeps the server's default. The settings and their defaults
  -- (docs/neovim.md says what each means):
  -- BEGIN generated from server/lenscribe/settings.py by `python -m lenscribe.settings_schema --write`
  --   modelDir = nil,                          -- a path; unset: the server's default
  --   workers = nil,                           -- 1..16; unset: automatic
  --   batchSize = 32,                          -- 1..64
  --   debounceMs = 300,                        -- 0..10000
  --   languages = nil,                         -- a list of language ids; unset: every supported language
  --   minChunkLines = 2,                       -- 1..1000
  --   lenses = true,                           -- true or false
  --   workspaceOnOpen = true,                  -- true or false
  --   workspaceMaxFiles = 10000,               -- 1..10000000
  --   workspaceMaxBytes = 268435456,           -- 1..1099511627776
  --   workspaceMaxSeconds = 3600,              -- 1..604800
  --   cacheDir = nil,                          -- a path; unset: the server's default
  --   hoverTimeoutMs = 2000,                   -- 0..120000
  --   maxFileBytes = 1000000,                  -- 1..2147483648
  --   maxFileLines = 20000,                    -- 1..10000000
  --   maxChunkChars = 6000,                    -- 100..1000000
  --   lensRefreshMs = 500,                     -- 0..60000
  --   beams = 1,                               -- 1..8
  --   preferDocstrings = true,                 -- true or false
  --   groundingCheck = true,                   -- true or false
  --   ["backend.url"] = nil,                   -- a string; unset: none
  --   ["backend.model"] = nil,                 -- a string; unset: none
  --   ["backend.apiKeyEnv"] = nil,             -- a string; unset: none
  --   ["backend.maxConcurrent"] = 2,           -- 1..64
  --   ["backend.timeoutMs"] = 30000,           -- 100..600000
  --   ["backend.lenses"] = true,               -- true or false
  --   ["backend.summarizeFile"] = true,        -- true or false
  --   ["backend.workspace"] = false,           -- true or false
  --   ["backend.workspaceMaxRequests"] = 200,  -- 0..10000000
  --   ["backend.regenerate"] = true,           -- true or false
  -- END generated
  settings = {},
  -- Show code lenses (and ask for them on the events below and on the server's refresh requests).
  codelens = true,
  codelens_events = { 'BufEnter', 'InsertLeave', 'BufWritePost' },
  -- Buffer-local K -> vim.lsp.buf.hover() (Neovim 0.10+ maps K itself), <leader>cl -> run the lens on this line.
  keymaps = true,
  -- Echo the server's work-done progress (workspace summarize) in the command line.
  progress = true,
  -- How the outline of :LenscribeSummarizeFile opens: 'vsplit', 'split' or 'tab'.
  outline_split = 'vsplit',
  -- Called with (client, bufnr) after the client attaches to a buffer.
  on_attach = nil,
}

M.config = vim.deepcopy(M.defaults)
-- Counters the headless test reads.
M.stats = { lens_refresh_requests = 0, lens_requests = 0, progress = {} }
M.last_outline = nil
M.last_workspace_result = nil

local group = nil

-- ---------------------------------------------------------------------------------------------- compatibility

local function has(version)
  return vim.fn.has('nvim-' .. version) == 1
end

local function notify(msg, level)
  vim.schedule(function()
    vim.notify('lenscribe: ' .. msg, level or vim.log.levels.INFO)
  end)
end

--- client:request on 0.11+ (method call), client.request before.
local function request(client, method, params, handler, bufnr)
  if has('0.11') then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function notify_server(client, method, params)
  if has('0.11') then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

local function stop_client(client)
  if has('0.11') then
    return client:stop()
  end
  return client.stop()
end

local function is_stopped(client)
  if has('0.11') then
    return client:is_stopped()
  end
  return client.is_stopped()
end

--- A Lua table as a JSON object even when empty (an empty Lua table would be encoded as []).
local function as_object(t)
  if type(t) ~= 'table' or next(t) == nil then
    return vim.empty_dict()
  end
  return t
end

local function get_clients(bufnr)
  local found = {}
  if vim.lsp.get_clients then
    found = vim.lsp.get_clients({ name = 'lenscribe', bufnr = bufnr })
  else
    for _, client in pairs(vim.lsp.get_active_clients()) do
      if client.name == 'lenscribe' and (bufnr == nil or vim.lsp.buf_is_attached(bufnr, client.id)) then
        table.insert(found, client)
      end
    end
  end
  return found
end

--- The lenscribe client attached to a buffer (0: the current one), or nil.
function M.client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  return get_clients(bufnr)[1]
end

local function attached_buffers(client)
  local bufs = {}
  for _, b in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(b) and vim.lsp.buf_is_attached(b, client.id) then
      table.insert(bufs, b)
    end
  end
  return bufs
end

-- ---------------------------------------------------------------------------------------------- server command

local function is_executable(path)
  return path ~= nil and path ~= '' and vim.fn.executable(vim.fn.expand(path)) == 1
end

-- -I (isolated mode): neither the working directory (the project) nor PYTHON* variables reach sys.path, so a
-- project's argparse.py or platformdirs.py is never imported by the probe or the server.
local function serve_cmd(python)
  return { python, '-I', '-m', 'lenscribe', 'serve' }
end

local function can_import_lenscribe(python)
  vim.fn.system({ vim.fn.expand(python), '-I', '-c', 'import lenscribe.cli' })
  return vim.v.shell_error == 0
end

--- May the project's virtual environment in `venv` (its Python runs the project's code) be used?
function M.workspace_python_trusted(venv)
  local trust = M.config.trust_workspace_python
  if trust ~= nil then
    return trust == true
  end
  local secure = vim.secure
  if not (secure and secure.read) then
    return false -- no trust database before Neovim 0.9
  end
  local cfg = venv .. '/pyvenv.cfg'
  if vim.fn.filereadable(cfg) ~= 1 then
    return false
  end
  -- Asks (once per content) unless pyvenv.cfg is already allowed or denied; nil unless allowed.
  local ok, contents = pcall(secure.read, cfg)
  return ok and contents ~= nil
end

--- The server's command line for a project root, or nil and why not.
function M.server_cmd(root)
  local cfg = M.config
  if type(cfg.cmd) == 'table' and #cfg.cmd > 0 then
    if not is_executable(cfg.cmd[1]) then
      return nil, string.format('cmd[1] %q is not an executable', cfg.cmd[1])
    end
    return cfg.cmd
  end
  if cfg.python and cfg.python ~= '' then
    if not is_executable(cfg.python) then
      return nil, string.format('python %q is not an executable', cfg.python)
    end
    if not can_import_lenscribe(cfg.python) then
      return nil, string.format('python %q cannot import lenscribe (install it: %s -m pip install lenscribe)', cfg.python, cfg.python)
    end
    return serve_cmd(vim.fn.expand(cfg.python))
  end
  local tried = {}
  local candidates = {}
  if root then
    for _, venv in ipairs({ root .. '/.venv', root .. '/venv' }) do
      if is_executable(venv .. '/bin/python') then
        if M.workspace_python_trusted(venv) then
          table.insert(candidates, venv .. '/bin/python')
        else
          table.insert(tried, venv .. '/bin/python (not trusted: trust_workspace_python, :trust)')
        end
      end
    end
  end
  if vim.g.python3_host_prog then
    table.insert(candidates, vim.g.python3_host_prog)
  end
  for _, python in ipairs(candidates) do
    if is_executable(python) then
      if can_import_lenscribe(python) then
        return serve_cmd(vim.fn.expand(python))
      end
      table.insert(tried, python)
    end
  end
  if is_executable('lenscribe') then
    return { vim.fn.exepath('lenscribe'), 'serve' }
  end
  if is_executable('python3') and can_import_lenscribe('python3') then
    return serve_cmd(vim.fn.exepath('python3'))
  end
  table.insert(tried, 'lenscribe')
  table.insert(tried, 'python3')
  return nil, 'no Python with the lenscribe package found (tried ' .. table.concat(tried, ', ') ..
    '); install it (pip install lenscribe) or pass python = ... or cmd = {...} to setup()'
end

-- ---------------------------------------------------------------------------------------------- root

local function root_for(bufnr)
  local name = api.nvim_buf_get_name(bufnr)
  local dir = name ~= '' and vim.fn.fnamemodify(name, ':p:h') or vim.fn.getcwd()
  local current = dir
  while current and current ~= '' do
    for _, marker in ipairs(M.config.root_markers) do
      if uv.fs_stat(current .. '/' .. marker) then
        return current
      end
    end
    local parent = vim.fn.fnamemodify(current, ':h')
    if parent == current then
      break
    end
    current = parent
  end
  return dir
end

-- ---------------------------------------------------------------------------------------------- code lenses

local lens_seq = {}

--- Asks the server for a buffer's lenses and shows them. Unlike vim.lsp.codelens.refresh() it is never skipped while
--- an earlier request is in flight (a server refresh must not be lost); an answer older than the newest is dropped.
function M.refresh_lenses(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if not M.config.codelens or not api.nvim_buf_is_loaded(bufnr) then
    return
  end
  local client = M.client(bufnr)
  if not client then
    return
  end
  lens_seq[bufnr] = (lens_seq[bufnr] or 0) + 1
  local mine = lens_seq[bufnr]
  M.stats.lens_requests = M.stats.lens_requests + 1
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) } }
  request(client, 'textDocument/codeLens', params, function(err, result, ctx, config)
    if mine ~= lens_seq[bufnr] or not api.nvim_buf_is_loaded(bufnr) then
      return -- a newer request is on its way
    end
    ctx = ctx or { bufnr = bufnr, client_id = client.id }
    ctx.bufnr = ctx.bufnr or bufnr
    vim.lsp.codelens.on_codelens(err, result or {}, ctx, config)
  end, bufnr)
end

--- workspace/codeLens/refresh: the server has new summaries; ask again for every attached buffer.
local function on_lens_refresh(_, _, ctx)
  M.stats.lens_refresh_requests = M.stats.lens_refresh_requests + 1
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client then
    vim.schedule(function()
      for _, b in ipairs(attached_buffers(client)) do
        M.refresh_lenses(b)
      end
    end)
  end
  return vim.NIL
end

-- ---------------------------------------------------------------------------------------------- progress

local function on_progress(err, result, ctx, config)
  -- keep Neovim's own bookkeeping (client.messages / client.progress, LspProgress autocmds)
  local default = vim.lsp.handlers['$/progress']
  if default then
    pcall(default, err, result, ctx, config)
  end
  if not result or type(result.value) ~= 'table' then
    return
  end
  local v = result.value
  local entry = M.stats.progress[result.token] or {}
  M.stats.progress[result.token] = entry
  entry.kind = v.kind
  entry.title = v.title or entry.title
  entry.message = v.message or entry.message
  entry.percentage = v.percentage or entry.percentage
  if M.config.progress then
    local text = (entry.title or 'lenscribe') .. (entry.message and (': ' .. entry.message) or '')
    if v.kind ~= 'end' and entry.percentage then
      text = text .. string.format(' (%d%%)', entry.percentage)
    end
    vim.schedule(function()
      api.nvim_echo({ { text, v.kind == 'end' and 'MoreMsg' or 'Normal' } }, false, {})
    end)
  end
end

-- ---------------------------------------------------------------------------------------------- start / attach

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.workspace = caps.workspace or {}
  caps.workspace.codeLens = { refreshSupport = true }
  caps.window = caps.window or {}
  caps.window.workDoneProgress = true
  return caps
end

local function on_attach(client, bufnr)
  if M.config.keymaps then
    local opts = { buffer = bufnr, silent = true }
    vim.keymap.set('n', 'K', vim.lsp.buf.hover, vim.tbl_extend('force', opts, { desc = 'lenscribe: hover summary' }))
    vim.keymap.set('n', '<leader>cl', vim.lsp.codelens.run, vim.tbl_extend('force', opts, { desc = 'lenscribe: run code lens' }))
    vim.keymap.set({ 'n', 'x' }, '<leader>ca', vim.lsp.buf.code_action,
      vim.tbl_extend('force', opts, { desc = 'lenscribe: code actions (insert docstring, regenerate, copy)' }))
  end
  if M.config.codelens then
    api.nvim_clear_autocmds({ group = group, buffer = bufnr })
    api.nvim_create_autocmd(M.config.codelens_events, {
      group = group,
      buffer = bufnr,
      callback = function(args)
        M.refresh_lenses(args.buf)
      end,
      desc = 'lenscribe: refresh code lenses',
    })
    M.refresh_lenses(bufnr)
  end
  if M.config.on_attach then
    M.config.on_attach(client, bufnr)
  end
end

local warned = {}

local function client_config(root, cmd)
  return {
    name = 'lenscribe',
    cmd = cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ':t') } },
    init_options = as_object(M.config.settings),
    settings = { lenscribe = as_object(M.config.settings) },
    capabilities = capabilities(),
    handlers = {
      ['workspace/codeLens/refresh'] = on_lens_refresh,
      ['$/progress'] = on_progress,
    },
    on_attach = on_attach,
    on_exit = function(code, signal)
      if code ~= 0 and signal ~= 15 then
        notify(string.format('the language server exited (code %d, signal %d); :LenscribeRestart starts it again', code, signal),
          vim.log.levels.WARN)
      end
    end,
  }
end


--- Starts (or reuses) the client for a buffer's project and attaches it. Returns the client id or nil.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  if vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local root = root_for(bufnr)
  for _, client in ipairs(get_clients(nil)) do
    if client.config.root_dir == root and not is_stopped(client) then
      vim.lsp.buf_attach_client(bufnr, client.id)
      return client.id
    end
  end
  local cmd, why = M.server_cmd(root)
  if not cmd then
    if not warned[why] then
      warned[why] = true
      notify('cannot start the language server: ' .. why, vim.log.levels.ERROR)
    end
    return nil
  end
  local ok, id
  if vim.lsp.start then -- 0.8+
    ok, id = pcall(vim.lsp.start, client_config(root, cmd), { bufnr = bufnr })
  else -- 0.7
    ok, id = pcall(vim.lsp.start_client, client_config(root, cmd))
    if ok and id then
      vim.lsp.buf_attach_client(bufnr, id)
    end
  end
  if not ok or not id then
    notify('cannot start the language server (' .. table.concat(cmd, ' ') .. '): ' .. tostring(id), vim.log.levels.ERROR)
    return nil
  end
  return id
end

-- ---------------------------------------------------------------------------------------------- commands

local function outline_buffer(markdown, source_name)
  local split = ({ vsplit = 'vnew', split = 'new', tab = 'tabnew' })[M.config.outline_split] or 'vnew'
  vim.cmd(split)
  local buf = api.nvim_get_current_buf()
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  pcall(api.nvim_buf_set_name, buf, 'lenscribe://outline/' .. vim.fn.fnamemodify(source_name, ':t'))
  api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(markdown, '\n', { plain = true, trimempty = true }))
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = 'markdown'
  return buf
end

--- :LenscribeSummarizeFile -- runs lenscribe.summarizeFile for the current buffer; its outline opens in a scratch buffer.
function M.summarize_file(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local client = M.client(bufnr)
  if not client then
    notify('no lenscribe language server for this buffer', vim.log.levels.WARN)
    return
  end
  local name = api.nvim_buf_get_name(bufnr)
  local params = { command = 'lenscribe.summarizeFile', arguments = { vim.uri_from_bufnr(bufnr) } }
  request(client, 'workspace/executeCommand', params, function(err, result)
    if err then
      notify('summarize file failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    local markdown = type(result) == 'table' and result.markdown or nil
    if type(markdown) ~= 'string' then
      markdown = '# ' .. vim.fn.fnamemodify(name, ':t') .. '\n\n(no outline)\n'
    end
    M.last_outline = { result = result, markdown = markdown }
    vim.schedule(function()
      M.last_outline.bufnr = outline_buffer(markdown, name)
    end)
  end, bufnr)
end

local function describe_workspace(result)
  if type(result) ~= 'table' then
    return 'workspace summarized'
  end
  if result.error then
    return 'workspace summarize failed: ' .. tostring(result.error)
  end
  return string.format('workspace %s: %d files, %d functions and classes (%d summarized, %d cached) in %.1f s',
    result.cancelled and 'summarize cancelled' or 'summarized', result.files or 0, result.chunks or 0,
    result.summarized or 0, result.cached or 0, result.seconds or 0)
end

--- :LenscribeSummarizeWorkspace -- runs lenscribe.summarizeWorkspace; progress is echoed, the counts at the end.
function M.summarize_workspace()
  local client = M.client(0) or get_clients(nil)[1]
  if not client then
    notify('no lenscribe language server running', vim.log.levels.WARN)
    return
  end
  notify('summarizing the workspace...')
  request(client, 'workspace/executeCommand', { command = 'lenscribe.summarizeWorkspace', arguments = {} }, function(err, result)
    if err then
      M.last_workspace_result = { error = err.message or vim.inspect(err) }
      notify('summarize workspace failed: ' .. M.last_workspace_result.error, vim.log.levels.ERROR)
      return
    end
    M.last_workspace_result = result or {}
    local level = (type(result) == 'table' and result.error) and vim.log.levels.ERROR or vim.log.levels.INFO
    notify(describe_workspace(result), level)
  end)
end

--- :LenscribeRestart -- stops every lenscribe client and attaches the open buffers again.
function M.restart()
  for _, client in ipairs(get_clients(nil)) do
    stop_client(client)
  end
  vim.defer_fn(function()
    for _, b in ipairs(api.nvim_list_bufs()) do
      if api.nvim_buf_is_loaded(b) and vim.tbl_contains(M.config.filetypes, vim.bo[b].filetype) then
        M.attach(b)
      end
    end
  end, 500)
end

-- ---------------------------------------------------------------------------------------------- summary actions

local COPY_COMMAND = 'lenscribe.client.copySummary' -- the server's "Copy summary" code action runs it here

--- Puts a summary in the unnamed register and, when there is a clipboard, in "+".
function M.copy_text(text, what)
  vim.schedule(function()
    vim.fn.setreg('"', text)
    local clipboard = vim.fn.has('clipboard') == 1 and pcall(vim.fn.setreg, '+', text)
    M.last_copied = text
    notify(string.format('copied the summary of %s%s', what or 'this function',
      clipboard and '' or ' (no clipboard: in the unnamed register)'))
  end)
end

local function cursor_args(client, bufnr)
  local win = api.nvim_get_current_win()
  local params = vim.lsp.util.make_position_params(win, client.offset_encoding or 'utf-16')
  return { vim.uri_from_bufnr(bufnr), params.position.line, params.position.character }
end

local function summary_at(client, args, bufnr, on_summary)
  request(client, 'workspace/executeCommand', { command = 'lenscribe.summaryAt', arguments = args }, function(err, result)
    if err or type(result) ~= 'table' or type(result.summary) ~= 'string' then
      local why = err and (err.message or vim.inspect(err)) or (type(result) == 'table' and result.error)
        or 'no function or class here'
      notify('no summary: ' .. tostring(why), vim.log.levels.WARN)
      return
    end
    on_summary(result.summary, result.qualname)
  end, bufnr)
end

-- The client command behind the "Copy summary" code action: arguments {uri, line, character, summary or null}.
local function copy_command(command, ctx)
  local args = command.arguments or {}
  if type(args[4]) == 'string' then
    M.copy_text(args[4])
    return
  end
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client then
    summary_at(client, { args[1], args[2], args[3] }, ctx.bufnr, function(summary, qualname)
      M.copy_text(summary, qualname)
    end)
  end
end

local function run_at_cursor(bufnr, command, on_result)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local client = M.client(bufnr)
  if not client then
    notify('no lenscribe language server for this buffer', vim.log.levels.WARN)
    return
  end
  request(client, 'workspace/executeCommand', { command = command, arguments = cursor_args(client, bufnr) },
    function(err, result)
      if err then
        notify(command .. ' failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
        return
      end
      if on_result then
        on_result(result)
      end
    end, bufnr)
end

--- :LenscribeInsertDocstring -- the summary of the function/class at the cursor as its docstring (one undo step).
function M.insert_docstring(bufnr)
  run_at_cursor(bufnr, 'lenscribe.insertDocstring', function(result)
    M.last_insert = result
  end)
end

--- :LenscribeRegenerate -- the summary of the function/class at the cursor again, with a beam search (4 beams).
function M.regenerate(bufnr)
  run_at_cursor(bufnr, 'lenscribe.regenerateSummary', function(result)
    M.last_regenerated = result
    M.refresh_lenses(bufnr)
  end)
end

--- :LenscribeCopySummary -- the summary of the function/class at the cursor into the + and " registers.
function M.copy_summary(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local client = M.client(bufnr)
  if not client then
    notify('no lenscribe language server for this buffer', vim.log.levels.WARN)
    return
  end
  summary_at(client, cursor_args(client, bufnr), bufnr, function(summary, qualname)
    M.copy_text(summary, qualname)
  end)
end

--- Sends changed settings to the running servers (workspace/didChangeConfiguration).
function M.update_settings(settings)
  M.config.settings = vim.tbl_deep_extend('force', M.config.settings, settings or {})
  for _, client in ipairs(get_clients(nil)) do
    client.config.settings = { lenscribe = as_object(M.config.settings) }
    notify_server(client, 'workspace/didChangeConfiguration', { settings = { lenscribe = as_object(M.config.settings) } })
  end
end

-- ---------------------------------------------------------------------------------------------- setup

function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  if opts and opts.filetypes then
    M.config.filetypes = opts.filetypes
  end
  group = api.nvim_create_augroup('lenscribe', { clear = true })
  vim.lsp.commands[COPY_COMMAND] = copy_command
  api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.attach(args.buf)
    end,
    desc = 'lenscribe: start / attach the language server',
  })
  api.nvim_create_user_command('LenscribeSummarizeFile', function()
    M.summarize_file(0)
  end, { desc = 'lenscribe: summarize this file into a markdown outline' })
  api.nvim_create_user_command('LenscribeSummarizeWorkspace', function()
    M.summarize_workspace()
  end, { desc = 'lenscribe: summarize every file of the workspace' })
  api.nvim_create_user_command('LenscribeRestart', function()
    M.restart()
  end, { desc = 'lenscribe: restart the language server' })
  api.nvim_create_user_command('LenscribeInsertDocstring', function()
    M.insert_docstring(0)
  end, { desc = 'lenscribe: insert the summary as the docstring of the function/class at the cursor' })
  api.nvim_create_user_command('LenscribeRegenerate', function()
    M.regenerate(0)
  end, { desc = 'lenscribe: regenerate the summary at the cursor with a beam search' })
  api.nvim_create_user_command('LenscribeCopySummary', function()
    M.copy_summary(0)
  end, { desc = 'lenscribe: copy the summary at the cursor' })
  api.nvim_create_user_command('LenscribeInfo', function()
    for _, client in ipairs(get_clients(nil)) do
      print(string.format('lenscribe client %d: %s (root %s), buffers %s', client.id, table.concat(client.config.cmd, ' '),
        client.config.root_dir, table.concat(attached_buffers(client), ',')))
    end
  end, { desc = 'lenscribe: show the running clients' })
  -- Buffers that were open before setup()
  for _, b in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(b) and vim.tbl_contains(M.config.filetypes, vim.bo[b].filetype) then
      M.attach(b)
    end
  end
  return M
end

return M
