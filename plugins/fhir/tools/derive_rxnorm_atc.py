#!/usr/bin/env python3
"""derive_rxnorm_atc.py - the RxNorm -> ATC rows careflags_fhir ships.

Derives, for every RxNorm concept coded in the given FHIR files, the ATC code
of its ingredient(s) from published sources, and prints the SQL rows of
careflags_fhir.rxnorm_atc (rxcui, atc or NULL, name, source, note):

  * RxNorm side: the concept's RxNorm name (NLM), from the OHDSI OMOP
    vocabulary subset published with OHDSI's EunomiaDatasets (Synthea27Nj
    5.4, CONCEPT.csv, Apache-2.0), else the display text of the coding in the
    data.  Its ingredient names and dose form are read from that name
    (RxNorm's naming is regular: "<ingredient> <strength> / ... <dose form>
    [<brand>]").
  * ATC side: the WHO ATC/DDD Index (WHO Collaborating Centre for Drug
    Statistics Methodology, atcddd.fhi.no), as published in the snapshot
    "WHO ATC-DDD 2026-04-25.csv" of github.com/fabkury/atcd: level-5 codes
    whose name is the ingredient's INN, restricted to the administration
    route of the dose form when the index gives routes.
  * RxNorm uses US names: USAN_TO_INN below lists the ingredients whose INN
    differs (acetaminophen = paracetamol).  Salt suffixes are dropped when the
    index names the base substance.
  * CHOSEN lists, with the reason, the concepts whose ingredient has several
    ATC codes for the same route (insulin, aspirin) or whose ATC class is a
    product class (intrauterine systems, vaginal rings).  Each chosen code
    must exist in the index (checked).  Everything else that does not give
    one ATC code is emitted with atc NULL and the reason in note.

Usage: derive_rxnorm_atc.py CONCEPT.csv "WHO ATC-DDD.csv" FILE... > rows.sql
(FILE: FHIR .json/.json.gz bundles or .ndjson/.ndjson.gz).
"""
import csv
import gzip
import json
import re
import sys

RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm'

USAN_TO_INN = {
    'acetaminophen': 'paracetamol',
    'albuterol': 'salbutamol',
    'aspirin': 'acetylsalicylic acid',
    'meperidine': 'pethidine',
    'nitroglycerin': 'glyceryl trinitrate',
    'penicillin v': 'phenoxymethylpenicillin',
    'vitamin b12': 'cyanocobalamin',
    'epoetin alfa': 'erythropoietin',
    'norethindrone': 'norethisterone',
    'ethinyl estradiol': 'ethinylestradiol',
    'clavulanate': 'beta-lactamase inhibitor',
    'nitrofurantoin, macrocrystals': 'nitrofurantoin',
    'insulin isophane, human': 'insulin (human)',
    'insulin, regular, human': 'insulin (human)',
}
SALTS = (' hydrochloride', ' sodium', ' potassium', ' succinate', ' hydrobromide', ' sulfate', ' tartrate')

# Dose form (end of the RxNorm name) -> WHO administration routes.
ROUTES = [
    ('oral', {'O'}), ('injection', {'P'}), ('injectable', {'P'}), ('auto-injector', {'P'}),
    ('inhalation', {'Inhal.solution', 'Inhal.aerosol', 'Inhal.powder'}),
    ('mucosal spray', {'SL', 'oral aerosol'}), ('drug implant', {'s.c. implant'}),
    ('vaginal system', {'V'}), ('intrauterine system', set()),
]

# Several ATC codes for one ingredient and route, or a product class: chosen.
CHOSEN = {
    '106892': ('A10AD01', 'human insulin 70/30 premix: A10AD "insulins and analogues for injection, '
                          'intermediate- or long-acting combined with fast-acting"'),
    '243670': ('B01AC06', 'acetylsalicylic acid 81 mg: low dose, platelet aggregation inhibitor '
                          '(B01AC06; N02BA01 is the analgesic dose)'),
    '1367439': ('G02BB01', 'NuvaRing: G02BB01 "vaginal ring with progestogen and estrogen"'),
    '807283': ('G02BA03', 'Mirena: G02BA03 "plastic IUD with progestogen"'),
    '1856546': ('G02BA03', 'Kyleena: G02BA03 "plastic IUD with progestogen"'),
    '748962': ('G03AC01', 'Camila: norethisterone 0.35 mg tablets, progestogen-only contraceptive G03AC01'),
    '831533': ('G03AC01', 'Errin: norethisterone 0.35 mg tablets, progestogen-only contraceptive G03AC01'),
    '1599803': ('N06DA52', 'donepezil and memantine: N06DA52 "donepezil and memantine"'),
    '901813': ('R06AA02', 'diphenhydramine 25 mg (systemic dose): R06AA02; D04AA32 is the topical antipruritic'),
    '749762': ('G03AB03', 'Seasonique, 84 + 7 tablets of two compositions: sequential preparation G03AB03 '
                          '(G03AA07 is the fixed combination)'),
    '978950': ('G03AB08', 'Natazia, dienogest and estradiol valerate in four phases: G03AB08 "dienogest and estradiol"'),
}


def codings(o, out):
    if isinstance(o, dict):
        if o.get('system') == RXNORM and o.get('code'):
            out.setdefault(o['code'], o.get('display') or '')
        for v in o.values():
            codings(v, out)
    elif isinstance(o, list):
        for v in o:
            codings(v, out)


def read_codes(paths):
    out = {}
    for p in paths:
        opener = gzip.open if p.endswith('.gz') else open
        with opener(p, 'rt', encoding='utf-8') as f:
            if '.ndjson' in p:
                for line in f:
                    if line.strip():
                        codings(json.loads(line), out)
            else:
                codings(json.load(f), out)
    return out


def ingredients(name):
    """Ingredient names and dose form of an RxNorm concept name."""
    n = re.sub(r'\[[^]]*\]', '', name)
    m = re.search(r'\{\d+ \((.*)\)\s*\}', n)            # a pack: {28 (x 0.35 MG Oral Tablet) }
    if m:
        n = m.group(1)
    n = re.sub(r'^(\d+ HR |\d+ DAY |NDA\d+ |[\d.]+ ML )+', '', n.strip())
    parts = [p.strip() for p in n.split(' / ')]
    names = []
    for p in parts:
        words = p.split(' ')
        i = next((k for k, w in enumerate(words) if re.match(r'^[\d.]+$', w)), len(words))
        names.append(' '.join(words[:i]).lower())
    form = n.lower()
    return [x for x in names if x], form


def inn(name, index):
    name = USAN_TO_INN.get(name, name)
    if name in index:
        return name
    for s in SALTS:
        if name.endswith(s) and name[:-len(s)] in index:
            return USAN_TO_INN.get(name[:-len(s)], name[:-len(s)])
    base = name
    for s in SALTS:
        if base.endswith(s):
            base = base[:-len(s)]
    return USAN_TO_INN.get(base, base)


def main():
    concept_csv, atc_csv, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    rxnames = {}
    with open(concept_csv, encoding='utf-8') as f:
        for c in csv.DictReader(f):
            if c['vocabulary_id'] == 'RxNorm':
                rxnames[c['concept_code']] = c['concept_name']
    index = {}      # level-5 name -> {code: set(routes)}
    names = {}
    with open(atc_csv, encoding='utf-8') as f:
        for r in csv.DictReader(f):
            names[r['atc_code']] = r['atc_name']
            if len(r['atc_code']) == 7:
                index.setdefault(r['atc_name'].lower(), {}).setdefault(r['atc_code'], set()).add(r['adm_r'])
    codes = read_codes(files)
    for rx in sorted(codes, key=int):
        rxname = rxnames.get(rx) or codes[rx]
        origin = 'OHDSI' if rx in rxnames else 'data'
        ings, form = ingredients(rxname)
        routes = next((r for k, r in ROUTES if k in form), None)
        atc, note = None, None
        if rx in CHOSEN:
            atc, note = CHOSEN[rx]
            if atc not in names:
                sys.exit(f'{rx}: chosen {atc} is not in the ATC index')
        else:
            keys = [inn(i, index) for i in ings]
            if len(keys) == 1:
                cands = index.get(keys[0], {})
            else:
                cands = {}
                for k in (' and '.join(keys), ' and '.join(reversed(keys))):
                    cands.update(index.get(k, {}))
            if routes:
                routed = {c: r for c, r in cands.items() if r & routes}
                if routed:
                    cands = routed
            if len(cands) == 1:
                atc = next(iter(cands))
            elif not cands:
                note = 'no ATC code in the WHO index for ' + ' + '.join(keys or ['(no ingredient)'])
            else:
                note = 'several ATC codes for ' + ' + '.join(keys) + ': ' + ', '.join(sorted(cands))
        src = f'RxNorm name ({origin}) -> WHO ATC index 2026-04-25 by ingredient' + (', chosen' if rx in CHOSEN else '')
        sq = lambda s: "NULL" if s is None else "'" + s.replace("'", "''") + "'"
        print(f"    ({sq(rx)}, {sq(atc)}, {sq(rxname)}, {sq(src)}, {sq(note)}),")


if __name__ == '__main__':
    main()
