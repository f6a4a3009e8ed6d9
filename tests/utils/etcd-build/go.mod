// Marks the module root only: every build names its own go.mod with -modfile (etcd-<minor>.mod), because one
// go.mod can require one version of etcd's modules, and the tests build two. Each has its checksums in
// etcd-<minor>.sum beside it (committed); this marker requires nothing, so it needs no go.sum.
module etcdops.test/etcdbuild

go 1.25
