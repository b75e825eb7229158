" Vim syntax file
" Language: shop (shopc's model files, *.shop)
" Follows grammar/shop.pest; tests/editors.rs checks that every keyword
" there is here.

if exists('b:current_syntax')
  finish
endif

syntax case match

" Comments: `##` documents the item below it, `#` is a comment.
syntax match shopComment /#.*$/ contains=shopTodo,@Spell
syntax match shopDocComment /##\(#\)\@!.*$/ contains=shopTodo,@Spell
syntax keyword shopTodo contained TODO FIXME XXX NOTE

" Items and blocks.
syntax keyword shopDeclaration source table model snapshot reconcile fn doc unit_test nextgroup=shopItemName skipwhite
syntax match shopItemName /`[^`]\+`\|\<\h\w*\>/ contained
syntax keyword shopBlock columns dimensions measures tests given

" Clauses of a model.
syntax keyword shopClause from join left inner full on where group by having dedupe keep latest earliest as
syntax keyword shopClause one many
syntax keyword shopClause except rename
syntax keyword shopClause union all
syntax keyword shopWindow over filter partition order distinct asc desc nulls first last
syntax keyword shopConditional case when then else end

" Operators.
syntax keyword shopOperatorWord and or not is in like ilike between
syntax match shopOperator /::\|||\|->\|<=\|>=\|<>\|!=\|[=<>+\-*/%]/

" Constants, numbers, strings.
syntax keyword shopBoolean true false
syntax keyword shopNull null
syntax match shopNumber /\<\d\(_\?\d\)*\(\.\d\+\)\?\([eE][+-]\?\d\+\)\?\>/
syntax region shopString start=/"/ skip=/\\./ end=/"\|$/ contains=shopEscape,shopDuration
syntax match shopEscape /\\./ contained
syntax match shopDuration /"\@<=\d\+\s*\(seconds\|second\|sec\|s\|minutes\|minute\|min\|m\|hours\|hour\|h\|days\|day\|d\|weeks\|week\|w\)"\@=/ contained
syntax region shopSqlString start=/'/ skip=/''/ end=/'\|$/

" Types: after `::`, in a column declaration (`name: type`), in a cast
" (`as numeric(12, 2)`), after `sql(…):`, and before a typed literal.
syntax keyword shopType contained text varchar string integer int bigint numeric decimal double float boolean bool date timestamp timestamptz
syntax match shopTypeAfter /\%(::\|[^:]:\)\@<=\s*\zs\h\w*/ contains=shopType
syntax match shopTypeAfter /\%(\<as\s\+\)\@<=\(text\|varchar\|string\|integer\|int\|bigint\|numeric\|decimal\|double\|float\|boolean\|bool\|date\|timestamp\|timestamptz\)\>/ contains=shopType
syntax match shopTypedLiteral /\<\(date\|timestamp\)\ze\s\+'/
syntax keyword shopSql sql

" Calls: aggregates and window functions stand out; any other call is a
" library function.
syntax match shopFunction /\<\h\w*\ze\s*(/
syntax match shopAggregate /\<\(count\|sum\|avg\|min\|max\|any_value\|bool_and\|bool_or\|stddev\)\ze\s*(/
syntax match shopWindowFunction /\<\(row_number\|rank\|dense_rank\|ntile\|percent_rank\|lag\|lead\|first_value\|last_value\)\ze\s*(/
syntax match shopCast /\<\(cast\|try_cast\)\ze\s*(/

" Settings (`key = value` at the start of a line or in `{ … }`), output
" columns, and references such as `o.order_id`.
syntax match shopKey /\(^\s*\|[{,]\s*\)\zs\h\w*\ze\s*=[^=]/
syntax match shopReference /\<\h\w*\ze\./
syntax match shopQuotedName /`[^`]\+`/

" Blocks fold.
syntax region shopFold start=/{/ end=/}/ transparent fold

highlight default link shopComment Comment
highlight default link shopDocComment SpecialComment
highlight default link shopTodo Todo
highlight default link shopDeclaration Keyword
highlight default link shopItemName Function
highlight default link shopBlock Structure
highlight default link shopClause Keyword
highlight default link shopWindow Keyword
highlight default link shopConditional Conditional
highlight default link shopOperatorWord Operator
highlight default link shopOperator Operator
highlight default link shopBoolean Boolean
highlight default link shopNull Constant
highlight default link shopNumber Number
highlight default link shopString String
highlight default link shopSqlString String
highlight default link shopEscape SpecialChar
highlight default link shopDuration Number
highlight default link shopType Type
highlight default link shopTypedLiteral Type
highlight default link shopSql Special
highlight default link shopFunction Function
highlight default link shopAggregate Statement
highlight default link shopWindowFunction Statement
highlight default link shopCast Keyword
highlight default link shopKey Identifier
highlight default link shopReference Identifier
highlight default link shopQuotedName Identifier

let b:current_syntax = 'shop'
