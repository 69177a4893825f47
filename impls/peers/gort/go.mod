module mapbench/gort

go 1.19
