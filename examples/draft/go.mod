module github.com/baton-dev/baton/examples/draft

go 1.19

require github.com/baton-dev/baton/clients/go v0.0.0

replace github.com/baton-dev/baton/clients/go => ../../clients/go
