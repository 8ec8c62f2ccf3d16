;redcode-94
;name Imp
;author evoforge tests
; The smallest warrior: copies itself one cell ahead, forever.
        MOV.I 0, 1
        END
