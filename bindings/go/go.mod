module mpsc

go 1.19
