"""A synthetic corpus for retrieval tests and bench/retrieval.py: fictional towns and companies.

Ten documents (eight town guides, two company handbooks) of about 20 pages each; each page
has a heading, three facts and filler prose (1,500-2,500 characters). `questions()` asks about
some of the facts, half in the page's own words and half paraphrased, and says which page
holds the answer. Everything comes from one seeded `random.Random`: the same on every run.

    from tests.corpus import corpus, questions
    for name, pages in corpus(): ...          # pages: [(heading, text)], page n at pages[n - 1]
    for q in questions(): q.text, q.document, q.page, q.answer, q.paraphrased
"""

from __future__ import annotations

import functools
import random
from typing import Callable, NamedTuple

__all__ = ["Question", "corpus", "questions"]

SEED = 20261203
QUESTIONS_PER_DOCUMENT = 8


class Question(NamedTuple):
    text: str
    document: str
    page: int  # 1-based
    answer: str  # the words that answer it, as they appear on that page
    paraphrased: bool  # False: asked in the page's own words


# A fact: (sentence, question in the page's words, paraphrased question, pool of the answer {x}).
Fact = tuple[str, str, str, str]

TOWN_TOPICS: list[tuple[str, list[Fact]]] = [
    ("Harbour and trade", [
        ("The harbour of {name} exports {x} to ports along the northern coast.",
         "What does the harbour of {name} export?", "Which goods are exported from the docks of {name}?", "goods"),
        ("The harbour master, {x}, keeps the tide tables pinned outside the customs house.",
         "Who is the harbour master of {name}?", "Who is in charge of the port at {name}?", "person"),
        ("Ferries sail from {name} to {x} twice a day in summer.",
         "Where do ferries from {name} sail to?", "Where does a ferry sailing from {name} take you?", "place"),
    ]),
    ("History", [
        ("{name} was founded in {x} by a band of salt traders.",
         "When was {name} founded?", "In what year was the founding of {name}?", "year"),
        ("Before the royal charter, the settlement was known as {x}.",
         "What was {name} known as before the royal charter?", "What was the old name of {name}?", "oldname"),
        ("A great fire in {x} destroyed most of the wooden quarter.",
         "When did the great fire destroy the wooden quarter of {name}?",
         "In which year was the fire destroying the timber district of {name}?", "year"),
    ]),
    ("Festivals", [
        ("The {x}, held each midsummer, fills the streets with drummers.",
         "Which festival fills the streets of {name} with drummers each midsummer?",
         "What midsummer celebration brings drumming to {name}?", "festival"),
        ("At the festival, families eat {x} cooked over open fires.",
         "What do families eat at the festival in {name}?",
         "Which food is cooked on open fires during the festivities in {name}?", "dish"),
        ("The festival's prize for the best costume is a {x}.",
         "What is the prize for the best costume at the festival in {name}?",
         "What does the winner of the costume contest in {name} receive?", "trophy"),
    ]),
    ("Food and drink", [
        ("The signature dish of {name} is {x}, served with rye bread.",
         "What is the signature dish of {name}?", "Which dish is {name} best known for?", "dish"),
        ("The local brewery brews a dark ale flavoured with {x}.",
         "What flavours the dark ale brewed in {name}?",
         "What gives the ales brewing in {name} their flavouring?", "flavour"),
        ("The oldest bakery, {x}, has sold cardamom buns for a century.",
         "What is the oldest bakery in {name}?", "Which baker has been selling cardamom buns in {name} the longest?",
         "shop"),
    ]),
    ("Climate", [
        ("The rainiest month in {name} is {x}, when storms roll in from the west.",
         "What is the rainiest month in {name}?", "During which month does {name} get the most rain?", "month"),
        ("The cold wind that blows down the valley is called the {x}.",
         "What is the cold wind that blows down the valley at {name} called?",
         "What name do locals give the chilly valley wind in {name}?", "wind"),
        ("Summer afternoons average {x} degrees in the shade.",
         "What temperature do summer afternoons in {name} average?",
         "How warm does it typically get on a summer afternoon in {name}?", "temperature"),
    ]),
    ("Architecture", [
        ("The tallest building is the {x}, a clock tower of grey granite.",
         "What is the tallest building in {name}?", "Which structure rises highest over {name}?", "building"),
        ("Most houses in the old town are built of {x}.",
         "What are most houses in the old town of {name} built of?",
         "Which material was used to build the old homes of {name}?", "material"),
        ("The bridge over the river was designed by the engineer {x}.",
         "Who designed the bridge over the river in {name}?",
         "Which engineer was responsible for the river crossing in {name}?", "person"),
    ]),
    ("Schools and learning", [
        ("The town's academy is renowned for its courses in {x}.",
         "What is the academy in {name} renowned for?", "Which subject is the college in {name} renowned for teaching?",
         "field"),
        ("The public library holds {x} volumes.",
         "How many volumes does the public library of {name} hold?", "How many books are in the library of {name}?",
         "volumes"),
        ("The first headmistress of the grammar school was {x}.",
         "Who was the first headmistress of the grammar school in {name}?",
         "Which woman first led the grammar school in {name}?", "person"),
    ]),
    ("Getting around", [
        ("The tram line to the station is painted {x}.",
         "What colour is the tram line to the station in {name}?",
         "Which colour are the trams that run to the railway station of {name}?", "colour"),
        ("The nearest airfield, {x}, has flights to the capital.",
         "What is the nearest airfield to {name}?", "Which airport serves {name}?", "airfield"),
        ("The coastal railway reaches {name} after a journey of {x} minutes from the junction.",
         "How many minutes does the coastal railway take from the junction to {name}?",
         "How long is the train ride from the junction to {name}?", "minutes"),
    ]),
    ("Sport", [
        ("The football club, {x}, plays in blue and white.",
         "What is the football club of {name}?", "Which soccer team represents {name}?", "club"),
        ("Its stadium holds {x} spectators.",
         "How many spectators does the stadium in {name} hold?",
         "What is the capacity of the football ground in {name}?", "capacity"),
        ("Every spring the town hosts a rowing race over {x} kilometres.",
         "How long is the rowing race held in {name} every spring?",
         "Over what distance do rowers compete in the spring race at {name}?", "distance"),
    ]),
    ("Industry", [
        ("The largest employer is {x}, which makes ship propellers.",
         "What is the largest employer in {name}?", "Which company employs the most people in {name}?", "company"),
        ("The mill by the weir produces {x}.",
         "What does the mill by the weir in {name} produce?", "What is being produced at the watermill in {name}?",
         "milled"),
        ("A small workshop builds {x} that are sold across the country.",
         "What does the small workshop in {name} build?", "What do the workshops in {name} make?",
         "crafted"),
    ]),
    ("Nature", [
        ("The marshes outside {name} shelter the rare {x}, a wading bird.",
         "Which rare wading bird do the marshes outside {name} shelter?",
         "What rare bird is sheltering in the wetlands near {name}?", "bird"),
        ("The forest to the south is mostly {x} trees.",
         "What trees make up most of the forest south of {name}?",
         "Which kind of tree dominates the woods south of {name}?", "tree"),
        ("The highest hill, {x}, offers a view of three lakes.",
         "What is the highest hill near {name}?", "Which summit gives a view over three lakes near {name}?", "hill"),
    ]),
    ("Government", [
        ("The current mayor, {x}, was elected on a promise to repave the square.",
         "Who is the current mayor of {name}?", "Who was voted in to lead {name}?", "person"),
        ("The town council has {x} members and meets weekly.",
         "How many members does the town council of {name} have?",
         "How many councillors sit on the council of {name}?", "seats"),
        ("The coat of arms shows a {x} on a green field.",
         "What does the coat of arms of {name} show?", "Which emblem appears on the heraldic shield of {name}?",
         "emblem"),
    ]),
    ("Music", [
        ("The composer {x} was born in a house on the harbour front.",
         "Which composer was born in {name}?", "What musician is a native of {name}?", "person"),
        ("The opera {x} premiered in the old theatre.",
         "Which opera premiered in the old theatre of {name}?",
         "What opera was first performed at the historic playhouse in {name}?", "opera"),
        ("The brass band plays every weekend at the {x}.",
         "Where does the brass band of {name} play every weekend?",
         "At which spot can you hear the brass band perform at weekends in {name}?", "venue"),
    ]),
    ("Museums", [
        ("The maritime museum displays {x}.",
         "What does the maritime museum of {name} display?",
         "What is displayed in the seafaring museum of {name}?", "artifact"),
        ("The art gallery's most famous painting is {x}.",
         "What is the most famous painting in the art gallery of {name}?",
         "Which picture is the best-known work in the gallery in {name}?", "painting"),
        ("Admission to the museums is free on {x}.",
         "On which day is admission to the museums of {name} free?",
         "When can you visit the museums in {name} without paying?", "weekday"),
    ]),
    ("Neighbourhoods", [
        ("The old quarter, called {x}, is a maze of steep lanes.",
         "What is the old quarter of {name} called?", "What name does the historic district of {name} go by?",
         "district"),
        ("Craftsmen in the eastern district are known for {x}.",
         "What are craftsmen in the eastern district of {name} known for?",
         "Which craft do artisans on the east side of {name} practise?", "craft"),
        ("The newest neighbourhood was built on land reclaimed from {x}.",
         "What was the newest neighbourhood of {name} built on?",
         "Where did the ground for the most recent housing estate in {name} come from?", "reclaimed"),
    ]),
    ("Markets", [
        ("Market day is {x}, when farmers fill the square.",
         "Which day is market day in {name}?", "On what day do farmers come to sell in the square of {name}?",
         "weekday"),
        ("The market's best-known stall sells {x}.",
         "What does the best-known stall at the market of {name} sell?",
         "What is sold at the most famous market stand in {name}?", "stall"),
        ("A covered fish hall, opened in {x}, stands beside the market.",
         "When did the covered fish hall in {name} open?",
         "In what year was the indoor fish market of {name} opened?", "year"),
    ]),
    ("Energy and water", [
        ("Most of the town's electricity comes from {x}.",
         "Where does most of the electricity in {name} come from?", "What is the main source of power for {name}?",
         "power"),
        ("Drinking water is piped from {x}.",
         "Where is the drinking water of {name} piped from?", "What is the source of tap water in {name}?", "lake"),
        ("The old gasworks was turned into {x}.",
         "What was the old gasworks in {name} turned into?", "What did the former gas plant in {name} become?",
         "conversion"),
    ]),
    ("Newspapers and radio", [
        ("The daily newspaper, {x}, has been printed since the railway arrived.",
         "What is the daily newspaper of {name}?", "Which paper do people in {name} read every day?", "newspaper"),
        ("The local radio station broadcasts on {x} FM.",
         "On which frequency does the local radio station of {name} broadcast?",
         "Where on the dial can you find the radio station of {name}?", "frequency"),
        ("Its most popular programme is {x}, a late-night call-in show.",
         "What is the most popular programme on the local radio in {name}?",
         "Which radio show is the biggest hit with listeners in {name}?", "show"),
    ]),
    ("Health", [
        ("The hospital, {x}, has a new wing for children.",
         "What is the hospital of {name} called?", "Which infirmary looks after the sick of {name}?", "hospital"),
        ("The hot springs are said to cure {x}.",
         "What are the hot springs of {name} said to cure?",
         "Which ailment do the thermal baths near {name} supposedly heal?", "ailment"),
        ("The town's pharmacy was opened by the chemist {x}.",
         "Who opened the pharmacy of {name}?", "Which chemist founded the apothecary in {name}?", "person"),
    ]),
    ("Twin towns", [
        ("{name} has been twinned with {x} for four decades.",
         "Which town is {name} twinned with?", "What is the sister city of {name}?", "place"),
        ("Each year the visiting delegation exchanges gifts of {x}.",
         "What gifts does the visiting delegation in {name} exchange each year?",
         "What presents are swapped during the annual twin-town visit to {name}?", "goods"),
        ("The partnership began with a football match in {x}.",
         "When did the twin-town partnership of {name} begin?",
         "In which year did {name} start its town partnership?", "year"),
    ]),
    ("Books and writers", [
        ("The novelist {x} set several books in the lanes of {name}.",
         "Which novelist set books in the lanes of {name}?", "What author wrote novels set in {name}?", "person"),
        ("The best-loved novel about the town is {x}.",
         "What is the best-loved novel about {name}?", "Which book do readers like most about {name}?", "book"),
        ("A literary prize, the {x}, is awarded each autumn.",
         "What literary prize is awarded each autumn in {name}?",
         "Which award for writers is given in {name} in the fall?", "award"),
    ]),
]

COMPANY_TOPICS: list[tuple[str, list[Fact]]] = [
    ("Founding", [
        ("{name} was founded in {x} in a rented boathouse.",
         "When was {name} founded?", "In what year did {name} start trading?", "year"),
        ("The founder, {x}, had been a ship's radio operator.",
         "Who founded {name}?", "Who started the firm {name}?", "person"),
        ("Its first product was {x}, assembled by hand.",
         "What was the first product of {name}?", "What was assembled first at {name}?", "crafted"),
    ]),
    ("Headquarters", [
        ("Headquarters are in {x}, in a former tram depot.",
         "Where are the headquarters of {name}?", "In which town is {name} based?", "place"),
        ("The head office has a rooftop garden planted with {x}.",
         "What is the rooftop garden of the head office of {name} planted with?",
         "What is planted on the roof of the main building of {name}?", "plant"),
        ("About {x} people work at the head office.",
         "How many people work at the head office of {name}?", "How large is the staff at the main office of {name}?",
         "capacity"),
    ]),
    ("Products", [
        ("The flagship product is the {x}, which outsells everything else.",
         "What is the flagship product of {name}?", "Which item is the best seller of {name}?", "model"),
        ("The {x} range is aimed at schools.",
         "Which range of {name} is aimed at schools?", "What product line does {name} sell to classrooms?", "range"),
        ("Every device carries a warranty of {x} years.",
         "How long is the warranty on devices from {name}?",
         "For how many years does {name} guarantee its products?", "warranty"),
    ]),
    ("Factories", [
        ("The main factory stands in {x}, beside the canal.",
         "Where is the main factory of {name}?", "Where does {name} have its factories?", "place"),
        ("The factory runs on power from {x}.",
         "Where does the factory of {name} get its power?", "What supplies electricity to the plant of {name}?",
         "power"),
        ("Factory tours are offered every {x}.",
         "On which day are factory tours offered at {name}?", "When can visitors look around the works of {name}?",
         "weekday"),
    ]),
    ("Leadership", [
        ("The chief executive is {x}, who joined as an apprentice.",
         "Who is the chief executive of {name}?", "Who runs {name} today?", "person"),
        ("The chief engineer, {x}, holds most of the patents.",
         "Who is the chief engineer of {name}?", "Which engineer leads the technical work at {name}?", "person"),
        ("The board meets in {x} each year to set the budget.",
         "In which month does the board of {name} meet to set the budget?",
         "When do the directors of {name} decide the annual spending?", "month"),
    ]),
    ("Finances", [
        ("Annual revenue reached {x} million crowns last year.",
         "What annual revenue did {name} reach last year?", "How much money did {name} earn last year?", "revenue"),
        ("The largest customer is {x}, which buys a third of the output.",
         "Who is the largest customer of {name}?", "Which client buys the most from {name}?", "company"),
        ("Shares are listed on the {x}.",
         "Where are the shares of {name} listed?", "On which stock market does {name} trade?", "exchange"),
    ]),
    ("Research", [
        ("The research laboratory studies {x}.",
         "What does the research laboratory of {name} study?",
         "What subject is {name} studying in its laboratories?", "field"),
        ("The company holds {x} patents.",
         "How many patents does {name} hold?", "How many inventions has {name} protected?", "seats"),
        ("Researchers publish their findings in a journal called {x}.",
         "What journal do researchers at {name} publish in?",
         "Where do the scientists of {name} print their results?", "newspaper"),
    ]),
    ("Marketing", [
        ("The advertising slogan is {x}.",
         "What is the advertising slogan of {name}?", "What motto does {name} use in its adverts?", "slogan"),
        ("The company mascot is a cartoon {x}.",
         "What is the company mascot of {name}?", "Which cartoon character represents {name}?", "mascot"),
        ("Campaigns are designed by the agency {x}.",
         "Which agency designs the campaigns of {name}?", "Who makes the adverts for {name}?", "shop"),
    ]),
    ("Setbacks", [
        ("A flood in {x} ruined the old warehouse.",
         "When did a flood ruin the old warehouse of {name}?", "In which year was the store of {name} flooded?",
         "year"),
        ("The company once recalled the {x} because of faulty springs.",
         "Which product did {name} recall because of faulty springs?",
         "What did {name} have to take back from customers?", "model"),
        ("A strike in the machine shop lasted {x} weeks.",
         "How many weeks did the strike in the machine shop of {name} last?",
         "How long did workers at {name} stop work?", "weeks"),
    ]),
    ("Partners", [
        ("Steel comes from the supplier {x}.",
         "Which supplier provides steel to {name}?", "Who sells metal to {name}?", "company"),
        ("A joint venture with {x} builds parts for trains.",
         "Who runs a joint venture with {name} building train parts?",
         "Which firm works with {name} on railway components?", "company"),
        ("In the south, the products are sold by {x}.",
         "Who sells the products of {name} in the south?", "Which distributor handles {name} goods in the south?",
         "shop"),
    ]),
    ("Staff life", [
        ("The staff canteen serves {x} on Fridays.",
         "What does the staff canteen of {name} serve on Fridays?",
         "What is on the menu for employees of {name} at the end of the week?", "dish"),
        ("The annual staff picnic is held at {x}.",
         "Where is the annual staff picnic of {name} held?", "Where do employees of {name} go for their yearly outing?",
         "hill"),
        ("The works choir sings {x} at the winter party.",
         "What does the works choir of {name} sing at the winter party?",
         "Which piece do the singers of {name} perform at the December celebration?", "opera"),
    ]),
    ("Awards", [
        ("The company won the {x} for its design work.",
         "Which award did {name} win for its design work?", "What prize was given to {name} for design?", "award"),
        ("The {x} was named product of the year.",
         "Which product of {name} was named product of the year?", "What {name} item won best of the year?", "model"),
        ("Its founder was honoured with a statue in {x}.",
         "Where was the founder of {name} honoured with a statue?",
         "In which town does a monument to the founder of {name} stand?", "place"),
    ]),
    ("Sustainability", [
        ("Packaging is made from {x}.",
         "What is the packaging of {name} made from?", "Which material goes into the boxes of {name}?", "material"),
        ("Delivery vans run on {x}.",
         "What do the delivery vans of {name} run on?", "What keeps the delivery van of {name} running?", "fuel"),
        ("The company aims to be carbon neutral by {x}.",
         "By when does {name} aim to be carbon neutral?", "In what year will {name} stop adding to emissions?",
         "future"),
    ]),
    ("Customers", [
        ("Most customers are {x}.",
         "Who are most customers of {name}?", "Which trade buys from {name} most often?", "profession"),
        ("The service hotline is open until {x}.",
         "Until when is the service hotline of {name} open?", "How late can you phone support at {name}?", "time"),
        ("The customer magazine is called {x}.",
         "What is the customer magazine of {name} called?", "Which periodical does {name} send to its clients?",
         "book"),
    ]),
    ("Subsidiaries", [
        ("The subsidiary {x} makes spare parts.",
         "Which subsidiary of {name} makes spare parts?",
         "What daughter company produces replacement parts for {name}?",
         "company"),
        ("A second subsidiary repairs instruments in {x}.",
         "Where does the second subsidiary of {name} repair instruments?",
         "In which town are instruments from {name} fixed?", "place"),
        ("The subsidiaries together employ {x} people.",
         "How many people do the subsidiaries of {name} employ?",
         "What is the combined headcount of the daughter firms of {name}?", "volumes"),
    ]),
    ("Training", [
        ("Apprentices study {x} at the works school.",
         "What do apprentices at {name} study?",
         "Which subject does an apprentice at {name} spend the training studying?", "field"),
        ("An apprenticeship lasts {x} months.",
         "How many months does an apprenticeship at {name} last?",
         "How long does it take to finish training at {name}?", "minutes"),
        ("The training centre is named after {x}.",
         "Who is the training centre of {name} named after?", "Whose name does the training building of {name} bear?",
         "person"),
    ]),
    ("Brand", [
        ("The logo shows a {x}.",
         "What does the logo of {name} show?", "Which picture is on the badge of {name}?", "emblem"),
        ("The brand colour is {x}.",
         "What is the brand colour of {name}?", "Which colour is used on all {name} packaging?", "colour"),
        ("Catalogues are set in the typeface {x}.",
         "Which typeface are the catalogues of {name} set in?", "What font does {name} print its catalogues in?",
         "typeface"),
    ]),
    ("Competitors", [
        ("The main rival is {x}.",
         "Who is the main rival of {name}?", "Which competitor does {name} fear most?", "company"),
        ("A lawsuit with a rival over the {x} dragged on for years.",
         "Which product was the lawsuit between {name} and a rival about?",
         "What device was at the centre of the court case involving {name}?", "model"),
        ("Its market share is about {x} percent.",
         "What is the market share of {name}?", "How big a slice of the market does {name} have?", "distance"),
    ]),
    ("Future plans", [
        ("A new factory is planned in {x}.",
         "Where is the new factory of {name} planned?", "Where will {name} build its next plant?", "place"),
        ("The next product will be the {x}.",
         "What will the next product of {name} be?", "What is {name} going to launch next?", "model"),
        ("The company hopes to double exports by {x}.",
         "By when does {name} hope to double exports?", "In what year does {name} want to sell twice as much abroad?",
         "future"),
    ]),
    ("Archives", [
        ("The company archive keeps {x}.",
         "What does the company archive of {name} keep?", "What is stored in the records room of {name}?", "artifact"),
        ("The archivist, {x}, answers questions from historians.",
         "Who is the archivist of {name}?", "Who looks after the historical records of {name}?", "person"),
        ("The archive opens to the public on {x}.",
         "On which day does the archive of {name} open to the public?",
         "When can outsiders visit the records of {name}?", "weekday"),
    ]),
]

TOWN_FILLER = [
    "Visitors arriving in {name} for the first time often remark on the smell of tar and woodsmoke.",
    "The streets of {name} are narrow, and most of them slope down towards the water.",
    "Guidebooks from the last century describe {name} as quiet, and in winter it still is.",
    "Many families have lived in {name} for generations, and they are proud of it.",
    "In the evenings the cafés around the square fill with people talking over the day.",
    "Local historians have written at length about this, not always in agreement.",
    "Boats of every size crowd the harbour on market days.",
    "The town council debates such matters at length before anything changes.",
    "Signs in the old town are painted by hand, a custom the residents defend fiercely.",
    "A walk from one end of {name} to the other takes less than an hour.",
    "Residents like to say that the weather in {name} changes four times a day.",
    "The local library keeps a collection of photographs documenting these changes.",
    "Tourists come mostly in high summer, when the ferries run more often.",
    "Children in {name} learn the names of the islands before they can read.",
    "Older residents still remember the years before the railway came.",
    "Several of the old families keep diaries going back to the founding.",
    "The bells of the church ring the hours, except at night.",
    "Fishermen mending nets on the quay are happy to talk to strangers.",
    "The smell of fresh bread drifts from the bakeries early each morning.",
    "Some of the best views are from the footpath above the cemetery.",
    "The town's newspaper covers these topics in a weekly column.",
    "Few places of its size have kept so much of their character.",
    "Winters are long, and the first snow usually falls before the end of autumn.",
    "Students from the academy give guided walks on summer weekends.",
    "A stone marker near the town hall records the height of the great flood.",
    "The cobbles are slippery after rain, so sensible shoes are advised.",
    "Local pride runs deep, and newcomers are quickly drawn into its traditions.",
    "Shops close early at the weekend, a habit that surprises visitors from the cities.",
    "The festival season brings musicians from all along the coast.",
    "Old maps of {name} show a shoreline quite different from today's.",
    "A small garden of herbs and roses lies behind the town hall.",
    "The council publishes a yearly report with figures on trade and visitors.",
    "Gulls are everywhere, and they will steal a sandwich from an open hand.",
    "The hills behind {name} turn purple with heather in late summer.",
    "Most residents cycle, and bicycles lean against every wall.",
    "Street lamps were converted to electricity only after the war.",
    "There is a saying in {name} that nothing good ever came in a hurry.",
    "The clock on the station has been five minutes fast for as long as anyone can remember.",
    "A painter who lived here left dozens of sketches of the market square.",
    "Some travellers stay a single night and return every year afterwards.",
    "The tourist office hands out a free map marking the main sights.",
    "On clear days the outline of the islands can be seen from the pier.",
    "Every household keeps a lantern ready for the long winter nights.",
    "The local dialect has a dozen words for different kinds of rain.",
    "Wooden benches along the promenade carry small plaques in memory of residents.",
]

COMPANY_FILLER = [
    "Like most firms of its age, {name} has changed its shape many times.",
    "Employees describe the atmosphere at {name} as serious but friendly.",
    "The company publishes an annual report that runs to about a hundred pages.",
    "Visitors sign in at the front desk and are given a paper badge.",
    "Decisions are usually made slowly and after long discussion.",
    "Many employees have worked for {name} for more than twenty years.",
    "The works siren still sounds at noon, although nobody needs it any more.",
    "In the early years the order book was written by hand in a ledger.",
    "Managers at {name} are expected to spend a day a month on the shop floor.",
    "The company has resisted several offers to buy it outright.",
    "Engineers keep notebooks, and the best ones are kept in a glass case.",
    "Suppliers praise {name} for paying its invoices on time.",
    "The canteen is the place where most ideas are first discussed.",
    "New employees spend their first week visiting every department.",
    "Quality inspectors test a sample from every batch before it ships.",
    "The firm's newsletter prints birthdays, retirements and recipes.",
    "A small team answers letters from customers, some of them decades old.",
    "The car park fills before eight in the morning.",
    "Trade fairs abroad bring in a large share of new orders.",
    "The company colours appear on everything from delivery vans to coffee mugs.",
    "Competition has grown sharply in the last decade.",
    "{name} sponsors a youth football team and a chess club.",
    "Old machines are rarely scrapped; they are repaired, sold or given to schools.",
    "The workshop floor is swept twice a day, a rule from the founding years.",
    "Prices are reviewed every spring, usually after a long meeting.",
    "Several former employees have started firms of their own.",
    "The firm keeps a small fleet of bicycles for trips between buildings.",
    "Staff can borrow tools for home use over the weekend.",
    "Complaints are logged and answered within three working days.",
    "A portrait of the founder hangs in the entrance hall.",
    "The company's accounts are audited by an outside firm every year.",
    "Training courses are open to anyone on the staff, whatever their job.",
    "The buildings are a mix of brick halls and newer glass offices.",
    "Night shifts were introduced when demand rose sharply after the war.",
    "Visitors often ask for a souvenir, so the shop sells miniature models.",
]

TOWNS = ["Velmora", "Castelbrine", "Oskarvik", "Duneharrow", "Marrowgate", "Ambersea", "Kilnwick", "Torvanne"]
COMPANIES = ["Halvorsen Instruments", "Brightwell Looms"]

_FIRST = ["Ada", "Bertil", "Cora", "Dagny", "Emil", "Freya", "Gustav", "Hedda", "Ivo", "Johanna", "Kasper",
          "Liv", "Magnus", "Nora", "Otto", "Petra", "Quentin", "Rosalind", "Sten", "Tilde", "Ulrik", "Vera",
          "Wilhelm", "Ylva", "Aurelio", "Bettina", "Casimir", "Dorothea", "Evander", "Fenna"]
_LAST = ["Rombault", "Kessling", "Marwood", "Tallberg", "Okonye", "Pratchley", "Vandermeer", "Ashgrove",
         "Lindqvist", "Morrow", "Haverty", "Strand", "Quillfeather", "Benedek", "Castellane", "Dunmore",
         "Eriksdottir", "Fairweather", "Gallardo", "Holloway", "Ibsenholm", "Jarrow", "Kovalenko", "Larkspur"]
_SYLLABLES = ["bel", "cor", "dun", "fal", "gar", "hol", "ish", "jor", "kel", "lor", "mar", "nes", "orv", "pel",
              "quor", "ras", "sel", "tav", "ull", "ven", "wyn", "zar"]
_ENDINGS = ["by", "holm", "stead", "mouth", "wick", "dale", "ness", "ford", "haven", "minster"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(2)).capitalize()


def _lists(*options: str) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(options)


def _numbers(low: int, high: int, step: int = 1) -> Callable[[random.Random], str]:
    return lambda rng: str(rng.randrange(low, high, step))


POOLS: dict[str, Callable[[random.Random], str]] = {
    "person": lambda r: f"{r.choice(_FIRST)} {r.choice(_LAST)}",
    "place": lambda r: _word(r) + r.choice(_ENDINGS),
    "oldname": lambda r: _word(r) + " " + r.choice(["Landing", "Crossing", "Hythe", "Strand", "Point"]),
    "year": _numbers(1180, 1990),
    "future": _numbers(2030, 2060),
    "month": _lists("January", "February", "March", "April", "May", "June", "July", "August", "September",
                    "October", "November", "December"),
    "weekday": _lists("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "goods": _lists("dried kelp", "salted cod", "amber resin", "copper wire", "hemp rope", "wool blankets",
                    "glass beads", "smoked eel", "pine tar", "sea salt", "slate tiles", "pickled herring",
                    "linen sailcloth", "walnut oil", "birch charcoal", "tanned sealskin", "cast iron stoves"),
    "festival": lambda r: r.choice(["Feast of", "Night of", "Festival of", "Procession of"]) + " " + r.choice(
        ["the Nine Drums", "Saint Oriel", "the Copper Moon", "Tall Candles", "the Returning Boats", "the Salt Queen",
         "the Green Lantern", "Broken Oars", "the Eel King", "the White Stag"]),
    "dish": _lists("barley stew with mussels", "herring baked in rye crust", "smoked mutton dumplings",
                   "nettle soup with egg", "fried pike cheeks", "blood pudding with lingonberries",
                   "roasted chestnut bread", "turnip pancakes", "eel pie with dill", "braised hare in juniper",
                   "saffron fish broth", "crab and potato cakes"),
    "trophy": _lists("silver spoon", "brass bell", "carved oar", "copper kettle", "painted drum",
                     "crystal goblet", "woollen crown", "pewter lantern"),
    "flavour": _lists("juniper berries", "bog myrtle", "smoked malt", "heather honey", "cloudberries",
                      "spruce tips", "roasted chicory", "wild cherries"),
    "shop": lambda r: r.choice(_LAST) + r.choice([" & Daughters", " Brothers", " and Sons", "'s Corner", " House"]),
    "wind": lambda r: r.choice(["Grey", "Old", "Hollow", "Widow's", "Shepherd's", "Iron"]) + " " + r.choice(
        ["Whistler", "Breath", "Sigh", "Needle", "Mare", "Fiddler"]),
    "temperature": _numbers(17, 32),
    "building": lambda r: r.choice(_LAST) + " " + r.choice(["Tower", "Spire", "Belfry", "Campanile"]),
    "material": _lists("red brick", "pale limestone", "tarred timber", "black basalt", "yellow sandstone",
                       "whitewashed clay", "recycled cardboard", "pressed straw", "grey slate"),
    "field": _lists("glassmaking", "astronomy", "marine biology", "cartography", "violin making",
                    "ship design", "tidal engineering", "textile chemistry", "optics", "metallurgy", "acoustics"),
    "volumes": _numbers(12000, 90000, 500),
    "colour": _lists("crimson", "emerald green", "mustard yellow", "cobalt blue", "burnt orange", "violet",
                     "teal", "maroon"),
    "airfield": lambda r: _word(r) + " " + r.choice(["Airfield", "Aerodrome", "Field"]),
    "minutes": _numbers(35, 96),
    "club": lambda r: r.choice(["Athletic", "Rovers", "United", "Wanderers", "Harriers"]) + " " + _word(r),
    "capacity": _numbers(2200, 19000, 100),
    "distance": _numbers(11, 42),
    "company": lambda r: r.choice(_LAST) + " " + r.choice(["Foundry", "Ironworks", "Engineering", "Holdings",
                                                           "Steelworks", "Mechanical"]),
    "milled": _lists("rag paper", "linen thread", "rye flour", "oat groats", "mustard powder", "wood pulp"),
    "crafted": _lists("wooden rocking horses", "brass telescopes", "accordions", "cuckoo clocks", "snow sledges",
                      "rowing skiffs", "ceramic stoves", "harpsichords", "barometers", "spinning wheels"),
    "bird": _lists("spoonbill", "bittern", "avocet", "crane", "godwit", "curlew", "stilt", "ruff"),
    "tree": _lists("birch", "beech", "hornbeam", "larch", "alder", "linden", "rowan", "sweet chestnut"),
    "hill": lambda r: r.choice(["Mount", "Beacon", "Knoll", "Fell"]) + " " + _word(r),
    "seats": _numbers(11, 40),
    "emblem": _lists("silver heron", "golden anchor", "black ram", "red key", "blue salmon", "crowned otter",
                     "white tower", "green dragon"),
    "opera": lambda r: "The " + r.choice(["Drowned", "Winter", "Glass", "Lighthouse", "Iron", "Silent"]) + " "
    + r.choice(["Bride", "Pilot", "Orchard", "Keeper", "Chorus", "Lament"]),
    "venue": _lists("bandstand in Linden Park", "steps of the customs house", "old fish market", "rose garden",
                    "harbour lighthouse", "ruined abbey"),
    "artifact": _lists("a whaling harpoon", "a ship's figurehead", "a brass diving helmet", "a narwhal tusk",
                       "the first steam winch", "a carved ivory compass", "a sealskin kayak", "the founder's ledger"),
    "painting": lambda r: r.choice(["Girl with", "Harbour at", "Storm over", "Woman with", "Boats at"]) + " "
    + r.choice(["Dusk", "a Lantern", "the Ice", "the Green Shawl", "Low Tide", "a Heron"]),
    "district": lambda r: _word(r) + r.choice(["gate", "row", "hill", "end"]),
    "craft": _lists("bookbinding", "silversmithing", "lace making", "basket weaving", "clog carving",
                    "stained glass", "rope making"),
    "reclaimed": _lists("the salt marsh", "an old quarry", "the tidal flats", "a drained lake",
                        "the former railway yard"),
    "stall": _lists("smoked cheese", "honey cakes", "wild mushrooms", "pickled walnuts", "goat sausages",
                    "rhubarb jam", "fresh oysters"),
    "power": _lists("a tidal barrage", "wind turbines on the ridge", "a peat power station", "a hydroelectric dam",
                    "geothermal wells", "solar fields on the old airfield"),
    "lake": lambda r: "Lake " + _word(r),
    "conversion": _lists("a climbing centre", "an art school", "a covered market", "a concert hall", "a brewery",
                         "a roller rink"),
    "newspaper": lambda r: "The " + r.choice(["Herald", "Courier", "Tidings", "Lantern", "Gazette", "Beacon"]) + " of "
    + _word(r),
    "frequency": lambda r: f"{r.randrange(88, 108)}.{r.randrange(1, 10)}",
    "show": lambda r: r.choice(["Night Owls", "Tide Talk", "Kettle On", "Lamplight", "Open Lines"]) + " with "
    + r.choice(_FIRST),
    "hospital": lambda r: "Saint " + r.choice(_FIRST) + " Infirmary",
    "ailment": _lists("gout", "rheumatism", "insomnia", "chilblains", "hay fever", "melancholy"),
    "book": lambda r: "The " + r.choice(["Salt", "Lantern", "Orchard", "Ferryman's", "Tin", "Harbour"]) + " "
    + r.choice(["Years", "Daughter", "Letters", "Winter", "Promise", "Almanac"]),
    "award": lambda r: r.choice(_LAST) + " " + r.choice(["Prize", "Medal", "Award"]),
    "plant": _lists("lavender", "rhubarb", "sunflowers", "wild thyme", "tomatoes", "sea kale"),
    "model": lambda r: r.choice(["Kestrel", "Osprey", "Meridian", "Falcon", "Halcyon", "Corvid", "Zephyr"]) + " "
    + str(r.randrange(10, 99)),
    "range": lambda r: r.choice(["Pupil", "Scholar", "Classroom", "Junior", "Primer", "Satchel"]),
    "warranty": _numbers(10, 26),
    "revenue": _numbers(120, 980),
    "exchange": lambda r: _word(r) + " Stock Exchange",
    "slogan": _lists('"Measured twice, trusted always"', '"Made to last a lifetime"', '"Precision you can hear"',
                     '"Woven for tomorrow"', '"The quiet machine"', '"Built by hands, proven by time"'),
    "mascot": _lists("beaver", "owl", "tortoise", "hedgehog", "puffin", "badger"),
    "weeks": _numbers(11, 30),
    "fuel": _lists("biogas", "hydrogen", "rapeseed oil", "compressed methane", "battery power"),
    "profession": _lists("surveyors", "ship captains", "weather stations", "tailors", "schools", "hospitals"),
    "time": _lists("nine in the evening", "midnight", "ten at night", "eight in the evening", "six in the evening"),
    "typeface": lambda r: _word(r) + " " + r.choice(["Grotesque", "Serif", "Antiqua", "Mono"]),
}


class _Values:
    """Distinct values per pool within one document, so each answer sits on a single page."""

    def __init__(self, rng: random.Random, reserved: set[str]) -> None:
        self._rng = rng
        self._used = set(reserved)

    def draw(self, pool: str) -> str:
        for _ in range(200):
            value = POOLS[pool](self._rng)
            if value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError(f"pool {pool!r} ran out of distinct values")


def _page(rng: random.Random, name: str, facts: list[str], filler: list[str]) -> str:
    target = rng.randint(1600, 2400)
    sentences = list(facts)
    pool = rng.sample(filler, len(filler))
    while pool and sum(len(s) + 1 for s in sentences) < target:
        sentences.insert(rng.randint(0, len(sentences)), pool.pop().format(name=name))
    paragraphs, i = [], 0
    while i < len(sentences):
        n = rng.randint(3, 5)
        paragraphs.append(" ".join(sentences[i:i + n]))
        i += n
    return "\n\n".join(paragraphs)


@functools.cache
def _build() -> tuple[list[tuple[str, list[tuple[str, str]]]], list[Question]]:
    rng = random.Random(SEED)
    documents: list[tuple[str, list[tuple[str, str]]]] = []
    asked: list[Question] = []
    subjects = [(town, f"{town}: a visitor's guide", TOWN_TOPICS, TOWN_FILLER) for town in TOWNS] + [
        (company, f"{company}: company handbook", COMPANY_TOPICS, COMPANY_FILLER) for company in COMPANIES]
    for name, document, topics, filler in subjects:
        values = _Values(rng, set(TOWNS) | set(COMPANIES))
        pages: list[tuple[str, str]] = []
        facts_by_page: list[list[tuple[Fact, str]]] = []
        for title, facts in rng.sample(topics, len(topics)):
            drawn = [(fact, values.draw(fact[3])) for fact in facts]
            sentences = [fact[0].format(name=name, x=x) for fact, x in drawn]
            pages.append((f"{name}: {title}", _page(rng, name, sentences, filler)))
            facts_by_page.append(drawn)
        for page in sorted(rng.sample(range(len(pages)), QUESTIONS_PER_DOCUMENT)):
            fact, answer = rng.choice(facts_by_page[page])
            paraphrased = len(asked) % 2 == 1
            template = fact[2] if paraphrased else fact[1]
            asked.append(Question(template.format(name=name), document, page + 1, answer, paraphrased))
        documents.append((document, pages))
    return documents, asked


def corpus() -> list[tuple[str, list[tuple[str, str]]]]:
    """(document name, [(page heading, page text)]) for every document."""
    return list(_build()[0])


def questions() -> list[Question]:
    """Questions about the corpus, alternately literal and paraphrased, with the page that answers each."""
    return list(_build()[1])
