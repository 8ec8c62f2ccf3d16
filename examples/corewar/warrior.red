;redcode-94
;name Seed
;author evoforge
; The warrior evolved by this task. Everything between the markers may change.
; EVOLVE-BLOCK-START
step    EQU 4
        ORG start
bomb    DAT.F  #0, #0
start   ADD.AB #step, bomb
        MOV.I  bomb, @bomb
        JMP    start
; EVOLVE-BLOCK-END
        END
