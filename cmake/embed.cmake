# embed.cmake — turns a binary file into a C source defining `const unsigned char NAME[]`
# and `const unsigned long NAME_len` (run with cmake -P; xxd is not assumed to be installed).
# Usage: cmake -DIN=file.pb -DOUT=file.c -DNAME=symbol -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* generated from ${IN} by cmake/embed.cmake: do not edit */\n"
  "const unsigned char ${NAME}[] = {\n${bytes}\n};\nconst unsigned long ${NAME}_len = ${len};\n")
