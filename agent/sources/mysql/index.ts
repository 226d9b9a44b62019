// MySQL/MariaDB binlog source (kind: mysql).
export { MysqlSource } from './mysql-source.js';
export { MysqlSourceConfigSchema, type MysqlSourceConfig } from './mysql-source-config.js';
