" shopc model files
autocmd BufRead,BufNewFile *.shop setfiletype shop
