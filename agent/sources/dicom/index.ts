export * from './dicom-source-config.js';
export * from './dicom-source.js';
