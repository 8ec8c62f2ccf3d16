;redcode-94
;name Scanner
;author evoforge tests
; Looks at every 7th cell ahead; bombs the first one that is not empty, then goes on.
        ORG scan
scan    ADD.AB #7, ptr
ptr     JMZ.F scan, 20
        MOV.I bomb, @ptr
        JMP scan
bomb    DAT.F #0, #0
        END
