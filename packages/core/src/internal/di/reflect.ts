// tsyringe refuses to load without a Reflect metadata polyfill. This module is imported by the one core module that
// imports tsyringe, before it, so that users never have to remember `import 'reflect-metadata'` themselves.
import 'reflect-metadata';
