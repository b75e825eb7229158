" shopc model files: `#` comments, two-space blocks.
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

setlocal commentstring=#\ %s
setlocal comments=:##,:#
setlocal shiftwidth=2 softtabstop=2 expandtab
setlocal iskeyword=@,48-57,_
setlocal foldmethod=syntax

let b:undo_ftplugin = 'setlocal commentstring< comments< shiftwidth< softtabstop< expandtab< iskeyword< foldmethod<'
