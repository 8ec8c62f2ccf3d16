;redcode-94
;name Dwarf
;author evoforge tests
; A bomber: drops a DAT on every 4th cell, never hitting itself (8000 is a multiple of 4).
step    EQU 4
        ORG start
bomb    DAT.F #0, #0
start   ADD.AB #step, bomb
        MOV.I bomb, @bomb
        JMP start
        END
