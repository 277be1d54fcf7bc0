-- One database per Ladder service, created when the postgres volume is first initialised.
-- docker-compose.yml mounts this directory at /docker-entrypoint-initdb.d.
CREATE DATABASE ladder_recruitment;
CREATE DATABASE ladder_training;
CREATE DATABASE ladder_inspection;
CREATE DATABASE ladder_ledger;
