" Checks the vim syntax: run by scripts/editors.sh as
"   vim -Nu NONE -i NONE -Es -S editors/vim/test.vim -- FILE…
" with editors/vim on the runtime path. For each file: the filetype is
" detected, the syntax loads without an error, and no token that
" shop.pest reads as a keyword outside comments and strings is left
" without a highlight group. Then named tokens of
" editors/vscode/test/tokens.test.shop must have their expected groups.
" Failures go to the file named by $SHOP_VIM_RESULT; it stays empty when
" all pass.

let s:failures = []

function! s:Group(line, col) abort
  return synIDattr(synID(a:line, a:col, 1), 'name')
endfunction

function! s:Fail(message) abort
  call add(s:failures, a:message)
endfunction

let s:keywords = split($SHOP_KEYWORDS)

for s:file in argv()
  execute 'silent edit ' . fnameescape(s:file)
  let v:errmsg = ''
  syntax on
  filetype plugin on
  if &filetype !=# 'shop'
    call s:Fail(s:file . ': filetype is "' . &filetype . '", not "shop"')
    continue
  endif
  if v:errmsg !=# ''
    call s:Fail(s:file . ': ' . v:errmsg)
  endif
  for s:lnum in range(1, line('$'))
    let s:text = getline(s:lnum)
    for s:word in s:keywords
      let s:start = 0
      while 1
        let s:at = match(s:text, '\<' . s:word . '\>', s:start)
        if s:at < 0
          break
        endif
        let s:start = s:at + 1
        let s:stack = map(synstack(s:lnum, s:at + 1), 'synIDattr(v:val, "name")')
        if match(s:stack, 'Comment\|String\|Quoted') >= 0
          continue
        endif
        if s:text[s:at - 1] ==# '.' || s:text[s:at + len(s:word)] ==# '.'
          continue
        endif
        if s:Group(s:lnum, s:at + 1) ==# ''
          call s:Fail(printf('%s:%d:%d: keyword "%s" has no highlight group', s:file, s:lnum, s:at + 1, s:word))
        endif
      endwhile
    endfor
  endfor
endfor

" Named tokens of the TextMate test file and the groups they must have.
let s:expected = [
      \ ['^model fact_orders', 'model', 'shopDeclaration'],
      \ ['^model fact_orders', 'fact_orders', 'shopItemName'],
      \ ['^## One row', '##', 'shopDocComment'],
      \ ['layer = "marts"', 'layer', 'shopKey'],
      \ ['layer = "marts"', '"marts"', 'shopString'],
      \ ['layer = "marts"', '# a setting', 'shopComment'],
      \ ['lookback = "3 days"', '3 days', 'shopDuration'],
      \ ['error_after = 24', '24', 'shopNumber'],
      \ ['from raw.raw_orders', 'from', 'shopClause'],
      \ ['left join one', 'one', 'shopClause'],
      \ ['union all (', 'union', 'shopClause'],
      \ ['union all (', 'all', 'shopClause'],
      \ ['^unit_test', 'unit_test', 'shopDeclaration'],
      \ ['given {', 'given', 'shopBlock'],
      \ ['having count', 'count', 'shopAggregate'],
      \ ['columns {$', 'columns', 'shopBlock'],
      \ ['cast(o.ordered_at as date)', 'cast', 'shopCast'],
      \ ['cast(o.ordered_at as date)', 'date', 'shopType'],
      \ ['date_trunc(', 'date_trunc', 'shopFunction'],
      \ ['tier = case', 'case', 'shopConditional'],
      \ ['ilike', 'ilike', 'shopOperatorWord'],
      \ ['or true or false', 'true', 'shopBoolean'],
      \ ['is not null', 'null', 'shopNull'],
      \ ["not in ('test'", "'test'", 'shopSqlString'],
      \ ['sql("o.total', 'sql', 'shopSql'],
      \ ['sql("o.total', 'double', 'shopType'],
      \ ['row_number() over', 'over', 'shopWindow'],
      \ ['row_number() over', 'row_number', 'shopWindowFunction'],
      \ ['order_id: integer', 'integer', 'shopType'],
      \ ['^snapshot customers_snapshot', 'snapshot', 'shopDeclaration'],
      \ ['^reconcile revenue', 'reconcile', 'shopDeclaration'],
      \ ['^fn cents_to_dollars', 'fn', 'shopDeclaration'],
      \ ['^fn cents_to_dollars', 'cents_to_dollars', 'shopItemName'],
      \ ['^fn cents_to_dollars', '->', 'shopOperator'],
      \ ['^fn cents_to_dollars', 'numeric', 'shopType'],
      \ ['^doc revenue_rule', 'doc', 'shopDeclaration'],
      \ ]
let s:tokens = expand('<sfile>:p:h:h') . '/vscode/test/tokens.test.shop'
execute 'silent edit ' . fnameescape(s:tokens)
for [s:pattern, s:token, s:group] in s:expected
  let s:lnum = search(s:pattern, 'cw')
  if s:lnum == 0
    call s:Fail('tokens.test.shop: no line matches ' . s:pattern)
    continue
  endif
  let s:col = stridx(getline(s:lnum), s:token) + 1
  let s:found = s:Group(s:lnum, s:col)
  if s:found !=# s:group
    call s:Fail(printf('tokens.test.shop:%d:%d: "%s" is %s, expected %s', s:lnum, s:col, s:token, s:found ==# '' ? 'not highlighted' : s:found, s:group))
  endif
endfor

call writefile(s:failures, $SHOP_VIM_RESULT)
qall!
