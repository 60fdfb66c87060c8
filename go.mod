module github.com/go-mmsg/mmsg

go 1.23.0

require golang.org/x/sys v0.32.0
