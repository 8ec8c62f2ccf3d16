;redcode-94
;name Vampire
;author evoforge tests
; Drops JMP "fangs" on every 8th cell; a process that runs one jumps into the pit and dies.
step    EQU 8
        ORG vamp
vamp    ADD.F  inc, fang
        MOV.I  fang, @fang
        JMP    vamp
fang    JMP    pit, 0
inc     DAT    #-step, #step
pit     DAT    #0, #0
        END
