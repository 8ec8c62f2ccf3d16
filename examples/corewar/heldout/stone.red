;redcode-94
;name Stone
;author evoforge tests
; A bomber that splits into two processes bombing with SPL-0 ... DAT pairs.
gap     EQU 3044
        ORG start
start   SPL 0, 0
loop    MOV.I <bptr, @bptr
        ADD.AB #gap, bptr
        DJN.F loop, <2000
bptr    DAT.F #4, #gap
        END
