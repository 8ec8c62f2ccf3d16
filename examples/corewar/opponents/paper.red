;redcode-94
;name Paper
;author evoforge tests
; A replicator: copies its body 826 cells ahead, starts the copy with SPL, moves on.
        ORG start
count   DAT.F #0, #0
start   MOV.AB #7, count
copy    MOV.I @count, <dest
        DJN.B copy, count
        SPL @dest
        ADD.AB #653, dest
        JMZ.B start, count
dest    DAT.F #0, #833
        END
