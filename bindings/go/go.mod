module github.com/mpsc-dev/mpsc/bindings/go

go 1.19
