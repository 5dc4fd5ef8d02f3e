module ampoule.dev/ground/probe

go 1.26
