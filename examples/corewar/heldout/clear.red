;redcode-94
;name Clear
;author evoforge tests
; A core clear: writes DATs backwards from just behind itself, all the way round the core.
        ORG clear
ptr     DAT    #0, #0
clear   MOV.I  bomb, <ptr
        JMP    clear
bomb    DAT    #0, #0
        END
