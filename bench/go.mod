module github.com/go-mmsg/mmsg/bench

go 1.26.8

require (
	github.com/go-mmsg/mmsg v0.0.0
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
)

replace github.com/go-mmsg/mmsg => ../
