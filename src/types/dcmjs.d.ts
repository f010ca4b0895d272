// dcmjs ships no type declarations; we use only its data dictionary (see src/dicom/dictionary.ts).
declare module 'dcmjs' {
  interface DictionaryEntry {
    tag: string;
    vr: string;
    vm: string;
    name: string;
    version: string;
  }
  const dcmjs: {
    data: {
      DicomMetaDictionary: {
        nameMap: Record<string, DictionaryEntry>;
      };
    };
  };
  export default dcmjs;
}
