module xsyslayout

go 1.26.0

require (
	github.com/go-mmsg/mmsg v0.0.0
	golang.org/x/sys v0.50.0
)

replace github.com/go-mmsg/mmsg => ../..
