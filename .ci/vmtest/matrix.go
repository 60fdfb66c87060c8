package main

import "context"

func cmdTest(ctx context.Context, e *env, args []string) int { return 0 }
