// The throwaway Postgres cluster lives with the benches (bench/pg-cluster.ts): `bench load --workers` starts one too.
export * from '../../bench/pg-cluster.js';
